"""The per-worker training function that Ray Train runs on every worker.

Each worker streams its shard of the train split, trains the DDP-wrapped model one
epoch at a time, predicts its shard of the valid split and gathers every worker's
predictions so the metrics are over the whole valid split, not averaged per worker.
Rank 0 writes a checkpoint each epoch (weights and that epoch's metrics).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist

from mtlrec.config import config_from_dict
from mtlrec.layout import FeatureLayout, feature_layout
from mtlrec.metrics import task_metrics
from mtlrec.models import Batch, MultiTaskLoss, build_model, collate
from mtlrec.train.loop import predict, train_epoch

CHECKPOINT_WEIGHTS = "model.pt"
CHECKPOINT_METRICS = "metrics.json"


def _batches(shard: Any, layout: FeatureLayout, batch_size: int, seed: int | None) -> Iterator[Batch]:
    """Whole numpy batches from a Ray Data shard, collated straight into tensors."""
    shuffle = {"local_shuffle_buffer_size": batch_size * 8, "local_shuffle_seed": seed} if seed is not None else {}
    for columns in shard.iter_batches(batch_size=batch_size, batch_format="numpy", **shuffle):
        yield collate(columns, layout)


def _gather(array: np.ndarray) -> np.ndarray:
    """Concatenate `array` from every worker (all ranks get the whole result)."""
    if not dist.is_available() or not dist.is_initialized():
        return array
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, array)
    return np.concatenate(parts)


def train_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point; `config` is `{"cfg": Config.to_dict()}`."""
    cfg = config_from_dict(config["cfg"], source="train worker config")
    tc = cfg.train
    context = ray.train.get_context()
    rank = context.get_world_rank()
    torch.manual_seed(tc.seed + rank)
    # each worker gets its share of the cores; more threads only fight each other
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // context.get_world_size()))

    layout = feature_layout(cfg.model, tc.tasks)
    model = ray.train.torch.prepare_model(build_model(cfg.model, layout))
    loss_fn = MultiTaskLoss(tc.tasks, tc.task_weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    train_shard = ray.train.get_dataset_shard("train")
    valid_shard = ray.train.get_dataset_shard("valid")

    for epoch in range(tc.epochs):
        losses = train_epoch(model, _batches(train_shard, layout, tc.batch_size, tc.seed + epoch), loss_fn, optimizer)
        labels, probs = predict(model, _batches(valid_shard, layout, tc.batch_size, None), tc.tasks)
        labels, probs = _gather(labels), _gather(probs)
        per_task = task_metrics(labels, probs, tc.tasks)
        metrics: dict[str, Any] = {
            "epoch": epoch,
            "train/loss": losses["loss"],
            "train/rows": float(_gather(np.array([losses["rows"]])).sum()),
        }
        for task, values in per_task.items():
            metrics |= {f"valid/{task}_{name}": value for name, value in values.items()}
        metrics["valid/mean_auc"] = float(np.mean([m["auc"] for m in per_task.values()]))
        metrics["valid/rows"] = float(len(labels))
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = None
            if rank == 0:
                module: torch.nn.Module = getattr(model, "module", model)  # unwrap DDP
                torch.save(module.state_dict(), os.path.join(tmp, CHECKPOINT_WEIGHTS))
                with open(os.path.join(tmp, CHECKPOINT_METRICS), "w") as out:
                    json.dump(metrics, out)
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report(metrics, checkpoint=checkpoint)
