"""Validation over every worker's predictions, not an average of per-worker metrics.

Each worker predicts its part of the valid split; the labels, probabilities, row
weights and user keys of all workers are gathered, and every worker computes the same
metrics over the whole split: AUC, GAUC (per-user AUC weighted by the user's rows),
logloss and calibration per task.

The valid split is divided without dropping rows, so workers may hold different
numbers of batches. FSDP's forward is a collective (it gathers the weights), so the
workers step together: one that runs out early repeats its last batch, and drops
those predictions, until every worker is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist

from mtlrec.metrics import task_metrics
from mtlrec.models import Batch
from mtlrec.models.calibration import corrected
from mtlrec.train.loop import Predictions, predict


def metric_names(tasks: tuple[str, ...]) -> list[str]:
    """Every metric validation reports, any of which `train.select_metric` may name."""
    per_task = ("auc", "gauc", "logloss", "calibration")
    return ["valid/mean_auc", *(f"valid/{task}_{name}" for task in tasks for name in per_task)]


def user_keys(user_ids: np.ndarray) -> np.ndarray:
    """A stable 64-bit key per user id, the same in every process."""
    return pd.util.hash_array(np.asarray(user_ids, dtype=object)).view(np.int64)


def gather(array: np.ndarray) -> np.ndarray:
    """Concatenate `array` from every worker, in rank order (all workers get the result)."""
    if not dist.is_available() or not dist.is_initialized():
        return array
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, array)
    return np.concatenate(parts)


def in_step(batches: Iterable[Batch], padding: Batch) -> Iterator[Batch]:
    """`batches`, then repeats of the last one (or `padding`) until every worker is done."""
    iterator = iter(batches)
    last = padding
    while True:
        batch = next(iterator, None)
        if dist.is_available() and dist.is_initialized():
            left = torch.tensor([0 if batch is None else 1])
            dist.all_reduce(left)  # how many workers still have a batch
            if int(left.item()) == 0:
                return
        elif batch is None:
            return
        last = batch if batch is not None else last
        yield last


def predict_in_step(
    objective: torch.nn.Module, batches: Iterable[Batch], padding: Batch, tasks: tuple[str, ...]
) -> Predictions:
    """This worker's predictions of `batches`, stepping together with the other workers."""
    rows = 0

    def counted() -> Iterator[Batch]:
        nonlocal rows
        for batch in batches:
            rows += len(batch)
            yield batch

    out = predict(objective, in_step(counted(), padding), tasks)
    return Predictions(labels=out.labels[:rows], probs=out.probs[:rows], weights=out.weights[:rows])


def validation_metrics(
    local: Predictions, users: np.ndarray, tasks: tuple[str, ...], keep_rate: float = 1.0
) -> dict[str, float]:
    """`valid/<task>_<metric>` over every worker's predictions, plus `valid/mean_auc` and `valid/rows`.

    Valid keeps every exposure: probabilities of a model trained on down-sampled
    negatives (`keep_rate` < 1) are corrected first, as inference corrects them.
    """
    labels, probs = gather(local.labels), gather(local.probs)
    fixed = corrected({t: probs[:, i] for i, t in enumerate(tasks)}, keep_rate)
    probs = np.stack([fixed[t] for t in tasks], axis=1) if len(probs) else probs
    weights, groups = gather(local.weights), gather(users)
    per_task = task_metrics(labels, probs, tasks, weights=weights, groups=groups)
    metrics = {f"valid/{task}_{name}": value for task, values in per_task.items() for name, value in values.items()}
    metrics["valid/mean_auc"] = float(np.mean([m["auc"] for m in per_task.values()]))
    metrics["valid/rows"] = float(len(labels))
    return metrics
