"""Adaptive Information Transfer Multi-task (AITM).

Xi, D., Chen, Z., Yan, P., Zhang, Y., Zhu, Y., Zhuang, F., Chen, Y. (2021). "Modeling
the Sequential Dependence among Audience Multi-step Conversions with Multi-task
Learning in Targeted Display Advertising". KDD 2021.
Tasks are the steps of a funnel, in order (click, purchase, ...). Each task's tower
encodes the shared embeddings; from the second step on, an attention unit (AIT) mixes
the task's own encoding with what the previous step passes on (a transfer layer over
the previous step's mixed representation). The paper's behavioural expectation
calibrator (a step no likelier than the one before) is a loss term,
`train.funnel_penalty`, so any model can use it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mtlrec.layout import FeatureLayout
from mtlrec.models.batch import Batch
from mtlrec.models.blocks import MLP, Layer, Towers
from mtlrec.models.config import ModelConfig
from mtlrec.models.embedding import FeatureEmbedding


class AdaptiveTransfer(nn.Module):
    """Self-attention over {transferred p, own q}: weights softmax(<h1(u), h2(u)> / sqrt(H)), output sum w * h3(u)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.scale = math.sqrt(dim)

    def forward(self, transferred: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        inputs = torch.stack([transferred, own], dim=1)  # [B, 2, H]
        scores = (self.query(inputs) * self.key(inputs)).sum(dim=-1) / self.scale  # [B, 2]
        weights = torch.softmax(scores, dim=1).unsqueeze(-1)  # [B, 2, 1]
        return (weights * self.value(inputs)).sum(dim=1)  # [B, H]


class AITM(nn.Module):
    def __init__(self, cfg: ModelConfig, layout: FeatureLayout) -> None:
        super().__init__()
        self.tasks = layout.tasks
        self.embedding = FeatureEmbedding(layout, cfg)
        encoders = {task: MLP(self.embedding.out_dim, cfg.hidden_dims, Layer.of(cfg)) for task in layout.tasks}
        self.encoders = nn.ModuleDict(encoders)
        dim = encoders[layout.tasks[0]].out_dim
        later = layout.tasks[1:]
        self.transfer = nn.ModuleDict({task: nn.Sequential(nn.Linear(dim, dim), nn.ReLU()) for task in later})
        self.attention = nn.ModuleDict({task: AdaptiveTransfer(dim) for task in later})
        self.towers = Towers(dim, layout.tasks, cfg.tower_dims, Layer.of(cfg), wide_dim=self.embedding.dots_dim)

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        inputs = self.embedding(batch)  # x [B, F], dots [B, P]
        mixed: dict[str, torch.Tensor] = {}
        previous: torch.Tensor | None = None
        for task in self.tasks:
            own = self.encoders[task](inputs.x)  # [B, H]
            if previous is not None:
                own = self.attention[task](self.transfer[task](previous), own)  # [B, H]
            mixed[task] = previous = own
        return self.towers(mixed, dict.fromkeys(self.tasks, inputs.dots))  # task -> [B]
