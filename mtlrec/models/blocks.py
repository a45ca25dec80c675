"""Building blocks shared by every model: MLP, embeddings, experts, gates, towers."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mtlrec.layout import FeatureLayout
from mtlrec.models.batch import Batch


class MLP(nn.Sequential):
    """Linear -> ReLU -> Dropout for each width in `dims`; identity when `dims` is empty."""

    def __init__(self, in_dim: int, dims: tuple[int, ...], dropout: float = 0.0) -> None:
        layers: list[nn.Module] = []
        prev = in_dim
        for width in dims:
            layers += [nn.Linear(prev, width), nn.ReLU(), nn.Dropout(dropout)]
            prev = width
        super().__init__(*layers)
        self.out_dim: int = prev


class FeatureEmbedding(nn.Module):
    """One embedding table per sparse feature, concatenated with the dense features."""

    def __init__(self, layout: FeatureLayout, dim: int) -> None:
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(f.buckets, dim) for f in layout.sparse)
        self._out_dim = len(layout.sparse) * dim + len(layout.dense)

    @property
    def out_dim(self) -> int:
        return self._out_dim

    def forward(self, batch: Batch) -> torch.Tensor:
        embedded = [table(batch.sparse[:, i]) for i, table in enumerate(self.tables)]  # S x [B, dim]
        return torch.cat([*embedded, batch.dense], dim=1)  # [B, S*dim + D]


class Towers(nn.Module):
    """One MLP plus a final Linear(-, 1) per task, each returning logits of shape [B]."""

    def __init__(self, in_dim: int, tasks: tuple[str, ...], dims: tuple[int, ...], dropout: float = 0.0) -> None:
        super().__init__()
        self.tasks = tasks
        self.towers = nn.ModuleDict()
        for task in tasks:
            body = MLP(in_dim, dims, dropout)
            self.towers[task] = nn.Sequential(body, nn.Linear(body.out_dim, 1))

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`inputs` maps each task to its tower input [B, in_dim]."""
        return {task: self.towers[task](inputs[task]).squeeze(-1) for task in self.tasks}  # [B]


class Experts(nn.Module):
    """`num_experts` independent MLPs applied to the same input."""

    def __init__(self, in_dim: int, num_experts: int, dims: tuple[int, ...], dropout: float = 0.0) -> None:
        super().__init__()
        self.experts = nn.ModuleList(MLP(in_dim, dims, dropout) for _ in range(num_experts))
        self.out_dim: int = dims[-1] if dims else in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([expert(x) for expert in self.experts], dim=1)  # [B, E, H]


class Gate(nn.Module):
    """Softmax weights over experts, computed from the gate input."""

    def __init__(self, in_dim: int, num_experts: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, num_experts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.linear(x), dim=-1)  # [B, E]
