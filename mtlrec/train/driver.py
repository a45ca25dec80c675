"""The Ray Train driver: `run_training(cfg, ...)` -> the best epoch's checkpoint.

Every worker streams its shard of `samples` from `ray.data.read_delta` at the pinned
Delta version: never a directory of Parquet files, which would also read the files
an overwrite left behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import ray.data
import ray.train
from ray.train.torch import TorchTrainer

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.config import Config
from mtlrec.layout import feature_layout
from mtlrec.train.worker import CHECKPOINT_METRICS, CHECKPOINT_WEIGHTS, train_worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingResult:
    weights_path: str  # the best epoch's state dict
    best: dict[str, Any]  # that epoch's metrics
    history: list[dict[str, Any]]  # every epoch's metrics, in order


def split_dataset(path: str, version: int, split: str, columns: list[str]) -> ray.data.Dataset:
    """One split of the Delta table `path` at `version`, with only `columns`."""
    dataset = ray.data.read_delta(path, version=version, columns=[S.SPLIT, *columns])
    return dataset.filter(expr=f"{S.SPLIT} == '{split}'").select_columns(columns)


def run_training(
    cfg: Config, *, samples_path: str, samples_version: int, storage_path: str, name: str
) -> TrainingResult:
    """Train `cfg.model` on `cfg.train.workers` Ray workers; pick the best epoch on valid."""
    tc = cfg.train
    layout = feature_layout(cfg.model, tc.tasks)
    columns = [*layout.columns, *tc.tasks]
    datasets: dict[str, Any] = {
        split: split_dataset(samples_path, samples_version, split, columns) for split in (S.TRAIN, S.VALID)
    }
    trainer = TorchTrainer(
        train_worker,
        train_loop_config={"cfg": cfg.to_dict()},
        scaling_config=ray.train.ScalingConfig(num_workers=tc.workers, use_gpu=False),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=storage_path,
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=None),
        ),
        datasets=datasets,
    )
    log.info("train: %s on %d workers, samples v%d, %d epochs", cfg.model.name, tc.workers, samples_version, tc.epochs)
    result = trainer.fit()
    if result.error is not None:
        raise RuntimeError(f"training failed: {result.error}") from result.error
    return best_epoch(f"{storage_path.rstrip('/')}/{name}", tc.select_metric)


def best_epoch(run_dir: str, metric: str) -> TrainingResult:
    """Read every checkpoint rank 0 wrote under `run_dir` and pick the best by `metric`.

    The metrics are read from the checkpoint folders themselves: they are what was
    saved with the weights, whatever Ray's result object kept.
    """
    history = []
    for entry in storage.list_dirs(run_dir):
        folder = f"{run_dir}/{entry}"
        if entry.startswith("checkpoint") and storage.exists(f"{folder}/{CHECKPOINT_METRICS}"):
            history.append((storage.read_json(f"{folder}/{CHECKPOINT_METRICS}"), f"{folder}/{CHECKPOINT_WEIGHTS}"))
    if not history:
        raise RuntimeError(f"training wrote no checkpoint under {run_dir}")
    history.sort(key=lambda item: item[0]["epoch"])
    best_metrics, best_weights = max(history, key=lambda item: item[0][metric])
    return TrainingResult(weights_path=best_weights, best=best_metrics, history=[m for m, _ in history])
