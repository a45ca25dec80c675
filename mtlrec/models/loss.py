"""Weighted sum of per-task binary cross-entropy on logits."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn


class MultiTaskLoss(nn.Module):
    """Task `i` is read from `logits[tasks[i]]` and `labels[:, i]` and weighted by `weights[i]`."""

    weights: torch.Tensor  # [T]

    def __init__(self, tasks: tuple[str, ...], weights: tuple[float, ...]) -> None:
        super().__init__()
        if len(tasks) != len(weights):
            raise ValueError(f"{len(tasks)} tasks {tasks} but {len(weights)} weights {weights}")
        self.tasks = tasks
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32), persistent=False)

    def forward(
        self, logits: Mapping[str, torch.Tensor], labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return the weighted total (with grad) and each task's mean loss (detached, for logging)."""
        per_task = torch.stack(
            [F.binary_cross_entropy_with_logits(logits[task], labels[:, i]) for i, task in enumerate(self.tasks)]
        )  # [T]
        total = (self.weights * per_task).sum()
        return total, {task: per_task[i].detach() for i, task in enumerate(self.tasks)}
