"""Building blocks shared by every model: MLP, experts, gates, towers.

The input block (embeddings) is in `mtlrec.models.embedding`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from mtlrec.models.config import ModelConfig


@dataclass(frozen=True)
class Layer:
    """What each hidden layer of every MLP gets: BatchNorm before its ReLU, dropout after."""

    dropout: float = 0.0
    batch_norm: bool = False

    @classmethod
    def of(cls, cfg: ModelConfig) -> Layer:
        return cls(dropout=cfg.dropout, batch_norm=cfg.batch_norm)


class MLP(nn.Sequential):
    """Linear -> (BatchNorm) -> ReLU -> Dropout for each width in `dims`; identity when `dims` is empty."""

    def __init__(self, in_dim: int, dims: tuple[int, ...], layer: Layer = Layer()) -> None:
        layers: list[nn.Module] = []
        prev = in_dim
        for width in dims:
            norm = [nn.BatchNorm1d(width)] if layer.batch_norm else []
            layers += [nn.Linear(prev, width), *norm, nn.ReLU(), nn.Dropout(layer.dropout)]
            prev = width
        super().__init__(*layers)
        self.out_dim: int = prev


class Towers(nn.Module):
    """One MLP plus a final Linear(-, 1) per task, each returning logits of shape [B].

    With `wide_dim` > 0 each task also adds a linear term of its own over a wide input
    (the id embeddings' dot products) straight to its logit.
    """

    def __init__(
        self, in_dim: int, tasks: tuple[str, ...], dims: tuple[int, ...], layer: Layer = Layer(), wide_dim: int = 0
    ) -> None:
        super().__init__()
        self.tasks = tasks
        self.towers = nn.ModuleDict()
        for task in tasks:
            body = MLP(in_dim, dims, layer)
            self.towers[task] = nn.Sequential(body, nn.Linear(body.out_dim, 1))
        self.wide = nn.ModuleDict({t: nn.Linear(wide_dim, 1, bias=False) for t in tasks}) if wide_dim else None

    def forward(
        self, inputs: Mapping[str, torch.Tensor], wide: Mapping[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """`inputs` maps each task to its tower input [B, in_dim], `wide` to its wide input [B, wide_dim]."""
        logits = {}
        for task in self.tasks:
            logit = self.towers[task](inputs[task])  # [B, 1]
            if self.wide is not None and wide is not None:
                logit = logit + self.wide[task](wide[task])  # [B, 1]
            logits[task] = logit.squeeze(-1)  # [B]
        return logits


class Experts(nn.Module):
    """`num_experts` independent MLPs applied to the same input."""

    def __init__(self, in_dim: int, num_experts: int, dims: tuple[int, ...], layer: Layer = Layer()) -> None:
        super().__init__()
        self.experts = nn.ModuleList(MLP(in_dim, dims, layer) for _ in range(num_experts))
        self.out_dim: int = dims[-1] if dims else in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([expert(x) for expert in self.experts], dim=1)  # [B, E, H]


class Gate(nn.Module):
    """Mixes experts' outputs with softmax weights computed from the gate's own input."""

    def __init__(self, in_dim: int, num_experts: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, num_experts)

    def forward(self, x: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
        """`x` [B, in_dim] chooses, `experts` [B, E, H] are mixed."""
        weights = torch.softmax(self.linear(x), dim=-1)  # [B, E]
        return torch.einsum("be,beh->bh", weights, experts)  # [B, H]
