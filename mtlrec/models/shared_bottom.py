"""Shared-bottom multi-task model.

Caruana, R. (1997). "Multitask Learning". Machine Learning 28(1), 41-75.
All tasks share one bottom network (hard parameter sharing); each task has its own tower.
"""

from __future__ import annotations

import torch
from torch import nn

from mtlrec.layout import FeatureLayout
from mtlrec.models.batch import Batch
from mtlrec.models.blocks import MLP, Layer, Towers
from mtlrec.models.config import ModelConfig
from mtlrec.models.embedding import FeatureEmbedding


class SharedBottom(nn.Module):
    def __init__(self, cfg: ModelConfig, layout: FeatureLayout) -> None:
        super().__init__()
        self.tasks = layout.tasks
        self.embedding = FeatureEmbedding(layout, cfg)
        self.bottom = MLP(self.embedding.out_dim, cfg.hidden_dims, Layer.of(cfg))
        self.towers = Towers(
            self.bottom.out_dim,
            layout.tasks,
            cfg.tower_dims,
            Layer.of(cfg),
            wide_dim=self.embedding.dots_dim,
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        inputs = self.embedding(batch)  # x [B, F], dots [B, P]
        shared = self.bottom(inputs.x)  # [B, H]
        return self.towers(dict.fromkeys(self.tasks, shared), dict.fromkeys(self.tasks, inputs.dots))  # task -> [B]
