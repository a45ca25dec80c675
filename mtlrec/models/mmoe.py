"""Multi-gate Mixture-of-Experts (MMoE).

Ma, J., Zhao, Z., Yi, X., Chen, J., Hong, L., Chi, E. H. (2018). "Modeling Task
Relationships in Multi-task Learning with Multi-gate Mixture-of-Experts". KDD 2018.
Experts are shared; each task mixes them with its own softmax gate before its tower.
"""

from __future__ import annotations

import torch
from torch import nn

from mtlrec.layout import FeatureLayout
from mtlrec.models.batch import Batch
from mtlrec.models.blocks import Experts, Gate, Layer, Towers
from mtlrec.models.config import ModelConfig
from mtlrec.models.embedding import FeatureEmbedding


class MMoE(nn.Module):
    def __init__(self, cfg: ModelConfig, layout: FeatureLayout) -> None:
        super().__init__()
        self.tasks = layout.tasks
        self.embedding = FeatureEmbedding(layout, cfg)
        in_dim = self.embedding.out_dim
        self.experts = Experts(in_dim, cfg.num_experts, cfg.expert_dims, Layer.of(cfg))
        self.gates = nn.ModuleDict({task: Gate(in_dim, cfg.num_experts) for task in layout.tasks})
        self.towers = Towers(
            self.experts.out_dim,
            layout.tasks,
            cfg.tower_dims,
            Layer.of(cfg),
            wide_dim=self.embedding.dots_dim,
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        inputs = self.embedding(batch)  # x [B, F], dots [B, P]
        experts = self.experts(inputs.x)  # [B, E, H]
        mixed = {task: self.gates[task](inputs.x, experts) for task in self.tasks}  # task -> [B, H]
        return self.towers(mixed, dict.fromkeys(self.tasks, inputs.dots))  # task -> [B]
