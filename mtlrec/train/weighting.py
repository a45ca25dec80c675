"""How the per-task losses are combined into one: `train.task_weighting`.

- fixed: `train.task_weights`, constant.
- uncertainty: Kendall, A., Gal, Y., Cipolla, R. (2018). "Multi-Task Learning Using
  Uncertainty to Weigh Losses for Scene Geometry and Semantics". CVPR 2018. A learnt
  log-variance s_t per task: sum_t exp(-s_t) L_t + s_t / 2 (their classification form).
- gradnorm: Chen, Z., Badrinarayanan, V., Lee, C.-Y., Rabinovich, A. (2018).
  "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask
  Networks". ICML 2018. Learnt weights w_t (summing to T) are pushed so that each
  task's gradient norm on the shared representation tracks the mean norm times the
  task's relative inverse training rate to the power alpha. The norms are taken on
  the shared representation (the id embeddings), not on the last shared layer's
  weights, as LibMTL's `rep_grad` does: it needs no knowledge of the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from mtlrec.train.config import TrainConfig


class FixedWeights(nn.Module):
    weights: torch.Tensor  # [T]

    def __init__(self, weights: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32), persistent=False)

    def forward(self, per_task: torch.Tensor, shared: Sequence[torch.Tensor]) -> torch.Tensor:
        return (self.weights * per_task).sum()


class UncertaintyWeights(nn.Module):
    def __init__(self, tasks: int) -> None:
        super().__init__()
        self.log_var = nn.Parameter(torch.zeros(tasks))  # [T]

    def forward(self, per_task: torch.Tensor, shared: Sequence[torch.Tensor]) -> torch.Tensor:
        return (torch.exp(-self.log_var) * per_task + 0.5 * self.log_var).sum()


def _grad_norm(loss: torch.Tensor, shared: Sequence[torch.Tensor]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, list(shared), retain_graph=True, allow_unused=True)
    squares = [g.pow(2).sum() for g in grads if g is not None]
    return torch.sqrt(torch.stack(squares).sum()) if squares else loss.new_zeros(())


class GradNorm(nn.Module):
    initial: torch.Tensor  # [T] each task's first loss, L_t(0)

    def __init__(self, tasks: int, alpha: float) -> None:
        super().__init__()
        self.alpha = alpha
        self.logits = nn.Parameter(torch.zeros(tasks))  # [T]; w = T * softmax keeps sum(w) = T
        self.register_buffer("initial", torch.zeros(tasks))

    def task_weights(self) -> torch.Tensor:
        return len(self.logits) * torch.softmax(self.logits, dim=0)  # [T]

    def forward(self, per_task: torch.Tensor, shared: Sequence[torch.Tensor]) -> torch.Tensor:
        w = self.task_weights()  # [T]
        weighted = (w.detach() * per_task).sum()  # the model is trained on this
        if not shared or not torch.is_grad_enabled():
            return weighted
        if not bool(self.initial.any()):
            self.initial.copy_(per_task.detach())
        norms = torch.stack([_grad_norm(per_task[t], shared) for t in range(len(w))]).detach()  # [T]
        g = w * norms  # [T], the weights are trained on this
        ratio = per_task.detach() / self.initial.clamp_min(1e-12)
        target = (g.mean() * (ratio / ratio.mean()) ** self.alpha).detach()  # [T]
        return weighted + (g - target).abs().sum()


TASK_WEIGHTINGS: dict[str, Callable[[TrainConfig], nn.Module]] = {
    "fixed": lambda tc: FixedWeights(tc.task_weights),
    "uncertainty": lambda tc: UncertaintyWeights(len(tc.tasks)),
    "gradnorm": lambda tc: GradNorm(len(tc.tasks), tc.gradnorm_alpha),
}
