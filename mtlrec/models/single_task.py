"""Single-task baseline: one independent network per task, nothing shared.

The reference point of multi-task learning (Caruana, R. (1997). "Multitask Learning".
Machine Learning 28(1), 41-75): each task is learnt alone, with its own embeddings,
bottom MLP and tower, so a sparse task (purchase) gets no help from a dense one (click).
"""

from __future__ import annotations

import torch
from torch import nn

from mtlrec.layout import FeatureLayout
from mtlrec.models.batch import Batch
from mtlrec.models.blocks import MLP, Layer, Towers
from mtlrec.models.config import ModelConfig
from mtlrec.models.embedding import FeatureEmbedding


class SingleTask(nn.Module):
    def __init__(self, cfg: ModelConfig, layout: FeatureLayout) -> None:
        super().__init__()
        self.tasks = layout.tasks
        embeddings = {task: FeatureEmbedding(layout, cfg) for task in layout.tasks}
        bottoms = {task: MLP(embeddings[task].out_dim, cfg.hidden_dims, Layer.of(cfg)) for task in layout.tasks}
        self.embeddings = nn.ModuleDict(embeddings)
        self.bottoms = nn.ModuleDict(bottoms)
        first = layout.tasks[0]
        self.towers = Towers(
            bottoms[first].out_dim,
            layout.tasks,
            cfg.tower_dims,
            Layer.of(cfg),
            wide_dim=embeddings[first].dots_dim,
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        inputs = {task: self.embeddings[task](batch) for task in self.tasks}  # task -> x [B, F], dots [B, P]
        hidden = {task: self.bottoms[task](inputs[task].x) for task in self.tasks}  # task -> [B, H]
        return self.towers(hidden, {task: inputs[task].dots for task in self.tasks})  # task -> [B]
