"""Plain training and evaluation loops: no Ray, no distributed code.

They take an iterable of `Batch` so the same functions run inside a Ray worker, in a
benchmark on in-memory tensors, or in a unit test.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from mtlrec.models import Batch, MultiTaskLoss


def train_epoch(
    model: nn.Module, batches: Iterable[Batch], loss_fn: MultiTaskLoss, optimizer: torch.optim.Optimizer
) -> dict[str, float]:
    """One pass over `batches`; returns the mean total and per-task loss, by rows."""
    model.train()
    totals: dict[str, float] = {}
    rows = 0
    for batch in batches:
        assert batch.labels is not None, "training batches need label columns"
        optimizer.zero_grad(set_to_none=True)
        loss, per_task = loss_fn(model(batch), batch.labels)
        loss.backward()
        optimizer.step()
        n = len(batch)
        rows += n
        totals["loss"] = totals.get("loss", 0.0) + float(loss.detach()) * n
        for task, value in per_task.items():
            totals[f"loss_{task}"] = totals.get(f"loss_{task}", 0.0) + float(value) * n
    return {k: v / max(rows, 1) for k, v in totals.items()} | {"rows": float(rows)}


@torch.no_grad()
def predict(model: nn.Module, batches: Iterable[Batch], tasks: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predicted probabilities, each [N, T] in task order."""
    model.eval()
    labels, probs = [], []
    for batch in batches:
        assert batch.labels is not None, "evaluation batches need label columns"
        logits = model(batch)
        probs.append(torch.stack([torch.sigmoid(logits[t]) for t in tasks], dim=1).numpy())  # [B, T]
        labels.append(batch.labels.numpy())
    if not labels:
        empty = np.zeros((0, len(tasks)), dtype=np.float32)
        return empty, empty
    return np.concatenate(labels), np.concatenate(probs)
