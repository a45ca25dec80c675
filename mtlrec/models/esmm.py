"""Entire Space Multi-task Model (ESMM).

Ma, X., Zhao, L., Huang, G., Wang, Z., Hu, Z., Zhu, X., Gai, K. (2018). "Entire Space
Multi-Task Model: An Effective Approach for Estimating Post-Click Conversion Rate".
SIGIR 2018. The towers share the embeddings and each predicts a step of the funnel
*given the step before* (pCTR, pCVR); the model is trained over every impression on
pCTR and pCTCVR = pCTR x pCVR, so pCVR is never fitted on the clicked sample alone.

With the tasks in funnel order (click, purchase, ...), task i's probability is the
product of the conditional probabilities of steps 0..i, returned as the logit of that
product, so the loss (BCE with logits) is exactly the paper's BCE on pCTCVR.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mtlrec.layout import FeatureLayout
from mtlrec.models.batch import Batch
from mtlrec.models.blocks import Layer, Towers
from mtlrec.models.config import ModelConfig
from mtlrec.models.embedding import FeatureEmbedding

# log p is kept below 0 so that log(1 - p) stays finite when p rounds to 1
_MAX_LOG_PROB = -1e-12
_LN2 = math.log(2.0)


def logit_of_product(log_probs: torch.Tensor) -> torch.Tensor:
    """logit(p) from log p (< 0), stable at both ends: log p - log(1 - p)."""
    log_p = log_probs.clamp(max=_MAX_LOG_PROB)
    # log(1 - e^x): expm1 is exact near 0, log1p for very negative x (Maechler 2012);
    # each branch sees only its own range, so the other's gradient is never inf * 0
    near_zero = torch.log(-torch.expm1(log_p.clamp(min=-_LN2)))
    far = torch.log1p(-torch.exp(log_p.clamp(max=-_LN2)))
    return log_p - torch.where(log_p > -_LN2, near_zero, far)


class ESMM(nn.Module):
    def __init__(self, cfg: ModelConfig, layout: FeatureLayout) -> None:
        super().__init__()
        self.tasks = layout.tasks
        self.embedding = FeatureEmbedding(layout, cfg)
        self.conditional = Towers(
            self.embedding.out_dim,
            layout.tasks,
            cfg.hidden_dims + cfg.tower_dims,
            Layer.of(cfg),
            wide_dim=self.embedding.dots_dim,
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        inputs = self.embedding(batch)  # x [B, F], dots [B, P]
        # task -> [B], the logit of p(step | step before)
        conditional = self.conditional(dict.fromkeys(self.tasks, inputs.x), dict.fromkeys(self.tasks, inputs.dots))
        log_p = torch.cumsum(torch.stack([F.logsigmoid(conditional[t]) for t in self.tasks], dim=1), dim=1)  # [B, T]
        joint = logit_of_product(log_p)  # [B, T]
        # the first step has no step before it: its own logit, exact
        return {task: conditional[task] if i == 0 else joint[:, i] for i, task in enumerate(self.tasks)}  # [B]
