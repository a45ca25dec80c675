"""The Ray Train driver: `run_training(cfg, ...)` -> the best epoch's checkpoint.

Every worker streams its shard of `samples` from `ray.data.read_delta` at the pinned
Delta version: never a directory of Parquet files, which would also read the files
an overwrite left behind. With `train.max_failures` > 0 a failed worker group is
restarted and resumes from its latest checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import deltalake
import ray.data
import ray.train
import torch
from ray.train.torch import TorchTrainer

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.config import Config
from mtlrec.models.batch import WEIGHT
from mtlrec.run import paths
from mtlrec.train.checkpoint import check_location, model_state_dict
from mtlrec.train.objective import build_objective, model_layout
from mtlrec.train.progress import is_better
from mtlrec.train.validation import metric_names
from mtlrec.train.worker import CHECKPOINT_METRICS, TRAIN, VALID, train_worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingResult:
    checkpoint_path: str  # the best epoch's checkpoint folder
    best: dict[str, Any]  # that epoch's metrics
    history: list[dict[str, Any]]  # every epoch's metrics, in order


class WholeValidSplit(ray.train.DataConfig):
    """Train rows split equally (every worker takes as many steps); valid rows split
    without dropping any, so validation sees the whole split."""

    def configure(self, datasets: dict[str, Any], world_size: int, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        others = {name: ds for name, ds in datasets.items() if name != VALID}
        shards = super().configure(others, world_size, *args, **kwargs) if others else [{} for _ in range(world_size)]
        if VALID in datasets:
            for shard, part in zip(shards, datasets[VALID].streaming_split(world_size, equal=False), strict=True):
                shard[VALID] = part
        return shards


def split_dataset(
    path: str, version: int, split: str, columns: list[str], shuffle_seed: int | None = None
) -> ray.data.Dataset:
    """One split of the Delta table `path` at `version`, with only `columns`.

    With `shuffle_seed` the files come in a random order, a different one each epoch,
    but the same sequence of orders in every run with that seed.
    """
    shuffle = None if shuffle_seed is None else ray.data.FileShuffleConfig(seed=shuffle_seed)
    # read_delta's annotation names only "files", but it hands `shuffle` to the Parquet
    # datasource, which takes a FileShuffleConfig as read_parquet does
    dataset = ray.data.read_delta(
        path,
        version=version,
        columns=[S.SPLIT, *columns],
        shuffle=shuffle,  # type: ignore[arg-type]
    )
    return dataset.filter(expr=f"{S.SPLIT} == '{split}'").select_columns(columns)


def run_training(
    cfg: Config,
    *,
    samples_path: str,
    samples_version: int,
    storage_path: str,
    name: str,
    callbacks: Sequence[Any] = (),
    init_model: str | None = None,
) -> TrainingResult:
    """Train `cfg.model` on `cfg.train.workers` Ray workers; pick the best epoch on valid.

    `init_model`: a model artifact folder whose weights the model starts from (warm start).
    """
    tc = cfg.train
    if tc.select_metric not in metric_names(tc.tasks):
        raise ValueError(f"train.select_metric {tc.select_metric!r} is none of {metric_names(tc.tasks)}")
    # a progress bar per epoch, split and worker says nothing the epoch metrics do not
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    # blocks reach the workers in the files' order, not in whichever read task ends
    # first: with the seeded file order, runs of the same config see the same batches
    context.execution_options.preserve_order = True
    layout = model_layout(cfg)
    in_table = {f.name for f in deltalake.DeltaTable(samples_path, version=samples_version).schema().fields}
    weighted = tc.reweight_negatives and WEIGHT in in_table
    columns = [*layout.columns, *tc.tasks, *([WEIGHT] if weighted else [])]
    datasets: dict[str, Any] = {
        TRAIN: split_dataset(samples_path, samples_version, S.TRAIN, columns, shuffle_seed=tc.seed),
        VALID: split_dataset(samples_path, samples_version, S.VALID, [*columns, S.USER_ID]),
    }
    trainer = TorchTrainer(
        train_worker,
        train_loop_config={"cfg": cfg.to_dict(), "init_model": init_model},
        scaling_config=ray.train.ScalingConfig(num_workers=tc.workers, use_gpu=tc.use_gpu),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=storage_path,
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=None),
            failure_config=ray.train.FailureConfig(max_failures=tc.max_failures),
            callbacks=list(callbacks),
        ),
        datasets=datasets,
        dataset_config=WholeValidSplit(),
    )
    log.info(
        "train: %s (%s) on %d workers, samples v%d, up to %d epochs, %s",
        cfg.model.name,
        tc.parallelism,
        tc.workers,
        samples_version,
        tc.epochs,
        f"warm start from {init_model}" if init_model else "from scratch",
    )
    result = trainer.fit()
    if result.error is not None:
        raise RuntimeError(f"training failed: {result.error}") from result.error
    return best_epoch(f"{storage_path.rstrip('/')}/{name}", tc.select_metric, tc.select_mode)


def best_epoch(run_dir: str, metric: str, mode: str = "max") -> TrainingResult:
    """Read every checkpoint under `run_dir` and pick the best by `metric`.

    The metrics are read from the checkpoint folders themselves: they are what was
    saved with the weights, whatever Ray's result object kept. Ray names the folders
    by time; an epoch a failure cut short may have left a partial folder, so of two
    folders of one epoch the later one, written after the restart, counts.
    """
    by_epoch: dict[int, tuple[str, dict[str, Any]]] = {}
    for entry in storage.list_dirs(run_dir):
        folder = f"{run_dir}/{entry}"
        if entry.startswith("checkpoint") and storage.exists(f"{folder}/{CHECKPOINT_METRICS}"):
            metrics = storage.read_json(f"{folder}/{CHECKPOINT_METRICS}")
            by_epoch[int(metrics["epoch"])] = (folder, metrics)
    if not by_epoch:
        raise RuntimeError(f"training wrote no checkpoint under {run_dir}")
    folders = [by_epoch[e][0] for e in sorted(by_epoch)]
    history = [by_epoch[e][1] for e in sorted(by_epoch)]
    best = 0
    for i, metrics in enumerate(history):
        if is_better(float(metrics[metric]), float(history[best][metric]), mode):
            best = i
    return TrainingResult(checkpoint_path=folders[best], best=history[best], history=history)


def trained_model_state(cfg: Config, checkpoint_path: str) -> dict[str, torch.Tensor]:
    """The model's full state dict from a checkpoint any number of workers wrote, in this process.

    Only a checkpoint of a run in this data root's Ray storage (`<root>/ray/<run>/`)
    is loaded: a path from elsewhere (a model's metadata, a tune result) is refused.
    """
    check_location(checkpoint_path, storage.arrow_uri(paths.ray(cfg.paths.root)))
    with ray.train.Checkpoint(checkpoint_path).as_directory() as folder:
        return model_state_dict(folder, build_objective(cfg))
