"""Progressive Layered Extraction (PLE).

Tang, H., Liu, J., Zhao, M., Gong, X. (2020). "Progressive Layered Extraction (PLE): A
Novel Multi-Task Learning (MTL) Model for Personalized Recommendations". RecSys 2020.
Each extraction level (a Customized Gate Control, CGC) has experts of its own per task
and shared experts. A task's gate mixes its own and the shared experts; a shared gate
mixes all of them into the next level's shared input. `model.ple_levels` levels are
stacked; the last one feeds the towers.
"""

from __future__ import annotations

import torch
from torch import nn

from mtlrec.layout import FeatureLayout
from mtlrec.models.batch import Batch
from mtlrec.models.blocks import Experts, Gate, Layer, Towers
from mtlrec.models.config import ModelConfig
from mtlrec.models.embedding import FeatureEmbedding


class ExtractionLevel(nn.Module):
    """One CGC level: task inputs and the shared input in, task outputs and the next shared input out."""

    def __init__(self, in_dim: int, tasks: tuple[str, ...], cfg: ModelConfig, last: bool) -> None:
        super().__init__()
        self.tasks = tasks
        self.specific = nn.ModuleDict(
            {task: Experts(in_dim, cfg.specific_experts, cfg.expert_dims, Layer.of(cfg)) for task in tasks}
        )
        self.shared = Experts(in_dim, cfg.num_experts, cfg.expert_dims, Layer.of(cfg))
        own = cfg.specific_experts + cfg.num_experts
        self.task_gates = nn.ModuleDict({task: Gate(in_dim, own) for task in tasks})
        everyone = len(tasks) * cfg.specific_experts + cfg.num_experts
        self.shared_gate = None if last else Gate(in_dim, everyone)
        self.out_dim = self.shared.out_dim

    def forward(
        self, inputs: dict[str, torch.Tensor], shared_input: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        shared = self.shared(shared_input)  # [B, Es, H]
        specific = {task: self.specific[task](inputs[task]) for task in self.tasks}  # task -> [B, Et, H]
        outputs = {
            task: self.task_gates[task](inputs[task], torch.cat([specific[task], shared], dim=1))  # [B, H]
            for task in self.tasks
        }
        if self.shared_gate is None:
            return outputs, shared_input
        everything = torch.cat([*specific.values(), shared], dim=1)  # [B, T*Et + Es, H]
        return outputs, self.shared_gate(shared_input, everything)  # [B, H]


class PLE(nn.Module):
    def __init__(self, cfg: ModelConfig, layout: FeatureLayout) -> None:
        super().__init__()
        if cfg.ple_levels < 1:
            raise ValueError(f"model.ple_levels must be >= 1, got {cfg.ple_levels}")
        self.tasks = layout.tasks
        self.embedding = FeatureEmbedding(layout, cfg)
        levels = []
        in_dim = self.embedding.out_dim
        for level in range(cfg.ple_levels):
            levels.append(ExtractionLevel(in_dim, layout.tasks, cfg, last=level == cfg.ple_levels - 1))
            in_dim = levels[-1].out_dim
        self.levels = nn.ModuleList(levels)
        self.towers = Towers(
            in_dim,
            layout.tasks,
            cfg.tower_dims,
            Layer.of(cfg),
            wide_dim=self.embedding.dots_dim,
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        embedded = self.embedding(batch)  # x [B, F], dots [B, P]
        inputs, shared = dict.fromkeys(self.tasks, embedded.x), embedded.x
        for level in self.levels:
            inputs, shared = level(inputs, shared)  # task -> [B, H], [B, H]
        return self.towers(inputs, dict.fromkeys(self.tasks, embedded.dots))  # task -> [B]
