"""Plain training and evaluation loops: no Ray, no distributed code.

They take an iterable of `Batch` so the same functions run inside a Ray worker, in a
benchmark on in-memory tensors, or in a unit test.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mtlrec.models import Batch


@dataclass(frozen=True)
class Predictions:
    labels: np.ndarray  # [N, T] float32, in task order
    probs: np.ndarray  # [N, T] float32
    weights: np.ndarray  # [N] float32


def train_epoch(
    objective: nn.Module, batches: Iterable[Batch], optimizers: Sequence[torch.optim.Optimizer]
) -> dict[str, float]:
    """One pass over `batches`; returns the mean total and per-task loss, by rows.

    `objective(batch)` returns a `StepOutput` with the loss to minimise. A batch of one
    row (a shard's tail) is passed over: BatchNorm cannot train on it, and equal shards
    have equal tails, so every DDP worker passes over its own and they stay in step.
    """
    objective.train()
    totals: dict[str, float] = {}
    rows = 0
    for batch in batches:
        if len(batch) < 2:
            continue
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        out = objective(batch)
        assert out.loss is not None, "training batches need label columns"
        out.loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        n = len(batch)
        rows += n
        totals["loss"] = totals.get("loss", 0.0) + float(out.loss.detach()) * n
        for task, value in out.per_task.items():
            totals[f"loss_{task}"] = totals.get(f"loss_{task}", 0.0) + float(value) * n
    return {k: v / max(rows, 1) for k, v in totals.items()} | {"rows": float(rows)}


@torch.no_grad()
def predict(objective: nn.Module, batches: Iterable[Batch], tasks: tuple[str, ...]) -> Predictions:
    """Labels, predicted probabilities and row weights of every batch, in order."""
    objective.eval()
    labels, probs, weights = [], [], []
    for batch in batches:
        assert batch.labels is not None, "evaluation batches need label columns"
        logits = objective(batch).logits
        probs.append(torch.stack([torch.sigmoid(logits[t]) for t in tasks], dim=1).numpy())  # [B, T]
        labels.append(batch.labels.numpy())
        weights.append(batch.weights.numpy())
    if not labels:
        empty = np.zeros((0, len(tasks)), dtype=np.float32)
        return Predictions(labels=empty, probs=empty, weights=np.zeros(0, dtype=np.float32))
    return Predictions(labels=np.concatenate(labels), probs=np.concatenate(probs), weights=np.concatenate(weights))
