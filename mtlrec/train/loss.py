"""The multi-task loss: per-task BCE on logits, weighted per row, combined per task.

Each row's loss is multiplied by its weight (1 / keep-rate for a down-sampled
class), and each task's loss is the weighted mean over the batch. The task losses are
combined by a task weighting (`mtlrec.train.weighting`). An optional funnel penalty,
AITM's behavioural expectation calibrator (Xi et al. 2021), adds
`funnel_penalty * mean(max(p_i - p_{i-1}, 0))` over consecutive tasks, which must then
be funnel steps in order (click before purchase).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mtlrec.train.config import TrainConfig
from mtlrec.train.weighting import TASK_WEIGHTINGS


class MultiTaskLoss(nn.Module):
    """Task `i` is read from `logits[tasks[i]]` and `labels[:, i]`."""

    def __init__(self, tasks: tuple[str, ...], weighting: nn.Module, funnel_penalty: float = 0.0) -> None:
        super().__init__()
        self.tasks = tasks
        self.weighting = weighting
        self.funnel_penalty = funnel_penalty

    def forward(
        self,
        logits: Mapping[str, torch.Tensor],
        labels: torch.Tensor,
        weights: torch.Tensor | None = None,
        shared: Sequence[torch.Tensor] = (),
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The total to minimise (with grad) and each task's weighted mean BCE (detached).

        `shared` is the representation every task reads (the looked-up embeddings),
        which a gradient-based task weighting differentiates against.
        """
        stacked = torch.stack([logits[task] for task in self.tasks], dim=1)  # [B, T]
        w = torch.ones_like(labels[:, 0]) if weights is None else weights  # [B]
        total_weight = w.sum().clamp_min(1e-12)
        per_row = F.binary_cross_entropy_with_logits(stacked, labels, reduction="none")  # [B, T]
        per_task = (per_row * w.unsqueeze(1)).sum(dim=0) / total_weight  # [T]
        total = self.weighting(per_task, shared)
        if self.funnel_penalty > 0 and len(self.tasks) > 1:
            probs = torch.sigmoid(stacked)  # [B, T]
            excess = torch.relu(probs[:, 1:] - probs[:, :-1]).sum(dim=1)  # [B]
            total = total + self.funnel_penalty * (excess * w).sum() / total_weight
        return total, {task: per_task[i].detach() for i, task in enumerate(self.tasks)}


def build_loss(tc: TrainConfig) -> MultiTaskLoss:
    """The loss `train` configures: its tasks, task weighting and funnel penalty."""
    if len(tc.tasks) != len(tc.task_weights):
        raise ValueError(f"{len(tc.tasks)} tasks {tc.tasks} but {len(tc.task_weights)} weights {tc.task_weights}")
    return MultiTaskLoss(tc.tasks, TASK_WEIGHTINGS[tc.task_weighting](tc), tc.funnel_penalty)
