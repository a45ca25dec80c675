"""The served graph: the trained model behind named inputs, task probabilities out.

A server sends one int64 vector per sparse feature of the layout (vocabulary indexes,
named like the layout's index columns, e.g. `user_idx`) and one float32 matrix `dense`
[B, D] whose columns are the layout's dense features in layout order. One matrix
rather than one input per dense column: a server builds it with one copy and the
layout fixes its order, which `serving.json` lists. Outputs are `p_<task>` [B]:
sigmoid of the logits, then the down-sampling correction of `models.calibration`,
so the served number is the one scoring writes.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mtlrec.layout import FeatureLayout
from mtlrec.models.artifact import LoadedModel
from mtlrec.models.batch import Batch
from mtlrec.serving.inference import prob_column

DENSE_INPUT = "dense"
BATCH_AXIS = "batch"
# the tasks `models.calibration.corrected` re-expresses: purchases only follow clicks
_CLICK, _PURCHASE = "click", "purchase"
_EPS = 1e-12


def input_names(layout: FeatureLayout) -> tuple[str, ...]:
    return (*layout.sparse_columns, DENSE_INPUT)


def output_names(layout: FeatureLayout) -> tuple[str, ...]:
    return tuple(prob_column(t) for t in layout.tasks)


def corrected(probs: Mapping[str, torch.Tensor], rate: float) -> dict[str, torch.Tensor]:
    """`models.calibration.corrected` in torch ops, so it runs inside the exported graph."""
    out = dict(probs)
    if rate >= 1.0 or _CLICK not in probs:
        return out
    p = probs[_CLICK]
    q = p / (p + (1.0 - p) / rate)
    out[_CLICK] = q
    if _PURCHASE in probs:
        out[_PURCHASE] = torch.minimum(q * probs[_PURCHASE] / p.clamp(min=_EPS), q)
    return out


class ServingModel(nn.Module):
    """`model` with positional inputs (sparse columns in layout order, then `dense`) and
    probability outputs in task order; the keep rate is fixed at construction, so the
    correction is part of the graph, not something a server must remember."""

    def __init__(self, model: nn.Module, layout: FeatureLayout, keep_rate: float) -> None:
        super().__init__()
        self.model = model
        self.tasks = layout.tasks
        self.keep_rate = keep_rate

    @classmethod
    def of(cls, loaded: LoadedModel) -> ServingModel:
        """The served graph of a loaded artifact, in eval mode, at the keep rate it records."""
        return cls(loaded.model, loaded.layout, loaded.keep_rate).eval()

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        *sparse, dense = inputs  # S x [B] int64, [B, D] float32
        # `collate`'s rule: a missing rate (NaN) is "no evidence", 0 after standardising
        dense = torch.where(torch.isnan(dense), torch.zeros_like(dense), dense)  # [B, D]
        weights = dense.new_ones((dense.shape[0],))  # [B], the loss's; forward ignores them
        batch = Batch(sparse=torch.stack(sparse, dim=1), dense=dense, labels=None, weights=weights)  # [B, S]
        logits = self.model(batch)  # task -> [B]
        probs = corrected({task: torch.sigmoid(logits[task]) for task in self.tasks}, self.keep_rate)
        return tuple(probs[task] for task in self.tasks)  # T x [B]


def example_inputs(layout: FeatureLayout, rows: int = 17) -> tuple[torch.Tensor, ...]:
    """Inputs of the right dtypes and shapes to trace the graph with (index 0: OOV, valid everywhere).

    `rows` is no other dimension of the model, so the tracer cannot mistake the batch
    axis for one of them.
    """
    sparse = tuple(torch.zeros(rows, dtype=torch.int64) for _ in layout.sparse)
    return (*sparse, torch.zeros(rows, len(layout.dense), dtype=torch.float32))
