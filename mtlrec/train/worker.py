"""The per-worker training function that Ray Train runs on every worker.

Each worker streams its shard of the train split and trains the model, replicated
(DDP) or sharded (FSDP), one epoch at a time. After each epoch the workers validate
together (`mtlrec.train.validation`), every worker writes its part of a checkpoint
(model, optimizers) and rank 0 adds the epoch's metrics and early-stopping state.

After a failure Ray Train restarts the worker group; the workers then resume from
the latest checkpoint, with its weights, optimizer moments, epoch and early-stopping
state, so no epoch before it is trained twice.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import ray.train
import ray.train.torch
import torch

from mtlrec import schema as S
from mtlrec.config import config_from_dict
from mtlrec.layout import FeatureLayout
from mtlrec.models import Batch, collate
from mtlrec.models.calibration import keep_rate
from mtlrec.models.sizing import grow_rows
from mtlrec.run.artifact import read_weights
from mtlrec.train.checkpoint import load_state, save_state
from mtlrec.train.loop import train_epoch
from mtlrec.train.objective import build_objective, build_optimizers, model_layout, use_sparse_gradients
from mtlrec.train.parallel import PARALLELISM, parameter_counts
from mtlrec.train.progress import Progress
from mtlrec.train.validation import gather, predict_in_step, user_keys, validation_metrics

CHECKPOINT_METRICS = "metrics.json"
TRAIN, VALID = "train", "valid"  # the dataset names the driver passes
PREFETCH_CHUNKS = 2  # chunks Ray Data prepares while the model trains on the current one


def _batches(shard: Any, layout: FeatureLayout, batch_size: int, shuffle_rows: int, seed: int) -> Iterator[Batch]:
    """Training batches from a Ray Data shard, shuffled within chunks of ~`shuffle_rows` rows.

    Each chunk, a whole number of batches, is collated into tensors at once and cut into
    batches in a random order of its rows: one conversion per chunk rather than per
    batch, and no Arrow rows copied in and out of Ray's local shuffle buffer. Whole
    batches per chunk keep the step count of equal shards equal, as DDP needs.
    """
    device = ray.train.torch.get_device()
    per_chunk = max(1, shuffle_rows // batch_size)
    generator = torch.Generator().manual_seed(seed)
    for columns in shard.iter_batches(
        batch_size=per_chunk * batch_size, batch_format="numpy", prefetch_batches=PREFETCH_CHUNKS
    ):
        chunk = collate(columns, layout)
        if not shuffle_rows:
            yield chunk.to(device)
            continue
        order = torch.randperm(len(chunk), generator=generator)
        for start in range(0, len(chunk), batch_size):
            yield chunk.take(order[start : start + batch_size]).to(device)


def _padding(layout: FeatureLayout) -> Batch:
    """A one-row batch for a worker with no valid rows at all to step with."""
    names = [*layout.columns, *layout.tasks]
    return collate({name: np.zeros(1) for name in names}, layout).to(ray.train.torch.get_device())


def _validate(
    objective: torch.nn.Module, shard: Any, layout: FeatureLayout, batch_size: int, rate: float
) -> dict[str, float]:
    users: list[np.ndarray] = []

    def batches() -> Iterator[Batch]:
        for columns in shard.iter_batches(batch_size=batch_size, batch_format="numpy"):
            users.append(user_keys(columns[S.USER_ID]))
            yield collate(columns, layout).to(ray.train.torch.get_device())

    local = predict_in_step(objective, batches(), _padding(layout), layout.tasks)
    users_all = np.concatenate(users) if users else np.zeros(0, np.int64)
    return validation_metrics(local, users_all, layout.tasks, keep_rate=rate)


def _resume(objective: torch.nn.Module, optimizers: list[torch.optim.Optimizer]) -> tuple[int, Progress]:
    """The first epoch to train and the early-stopping state: from the latest checkpoint, if any."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return 0, Progress()
    with checkpoint.as_directory() as folder:
        load_state(folder, objective, optimizers)
        with open(os.path.join(folder, CHECKPOINT_METRICS)) as f:
            metrics = json.load(f)
    return int(metrics["epoch"]) + 1, Progress.from_metrics(metrics)


def _report(metrics: dict[str, Any], objective: torch.nn.Module, optimizers: list[torch.optim.Optimizer]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        save_state(folder, objective, optimizers)
        if ray.train.get_context().get_world_rank() == 0:
            with open(os.path.join(folder, CHECKPOINT_METRICS), "w") as out:
                json.dump(metrics, out)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))


def _warm_start(model: torch.nn.Module, path: str, overflow_rows: int) -> None:
    """Start from the weights at `path`; an id table the vocabulary has grown since keeps them
    in its first rows (`sizing.grow_rows`)."""
    state, own = read_weights(path), model.state_dict()
    for name, old in state.items():
        if name.endswith("table.weight") and name in own and own[name].shape != old.shape:
            state[name] = grow_rows(old, own[name], overflow_rows)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise RuntimeError(f"warm start from {path}: its weights do not fit this model config: {err}") from None


def _epoch_line(metrics: dict[str, Any], epochs: int, tasks: tuple[str, ...]) -> str:
    aucs = " ".join(f"{task} {metrics[f'valid/{task}_auc']:.4f}" for task in tasks)
    return (
        f"mtlrec train: epoch {metrics['epoch'] + 1}/{epochs}: loss {metrics['train/loss']:.4f}, valid AUC {aucs}, "
        f"{metrics['train/samples_per_s']:,.0f} samples/s, {metrics['train/seconds']:.1f}s"
    )


def train_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point; `config` is `{"cfg": Config.to_dict(), "init_model": folder or None}`."""
    cfg = config_from_dict(config["cfg"], source="train worker config")
    tc = cfg.train
    context = ray.train.get_context()
    rank = context.get_world_rank()
    # each worker gets its share of its node's cores; more threads only fight each other
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // context.get_local_world_size()))
    # the tables' per-step decay drives the rows no batch reads into subnormal floats,
    # which the CPU computes with several times slower: flushed to zero
    torch.set_flush_denormal(True)
    torch.manual_seed(tc.seed)  # the same initial weights everywhere: FSDP shards them as they are
    plain = build_objective(cfg)
    full_size = sum(p.numel() for p in plain.parameters())
    if config.get("init_model") and ray.train.get_checkpoint() is None:  # a resumed run has its own weights
        _warm_start(plain.model, config["init_model"], cfg.model.embedding_overflow_rows)
    if tc.sparse_embeddings:
        use_sparse_gradients(plain)
    objective = PARALLELISM[tc.parallelism](plain)
    optimizers = build_optimizers(objective, tc)
    torch.manual_seed(tc.seed + rank)  # but each its own dropout
    start, progress = _resume(objective, optimizers)
    shares = {k: gather(np.array([v])).tolist() for k, v in parameter_counts(objective).items()}
    pids = gather(np.array([os.getpid()])).tolist()  # which processes this worker group runs in
    layout = model_layout(cfg)
    train_shard, valid_shard = ray.train.get_dataset_shard(TRAIN), ray.train.get_dataset_shard(VALID)

    for epoch in range(start, tc.epochs):
        if progress.exhausted(tc.patience):
            break
        began = time.perf_counter()
        batches = _batches(train_shard, layout, tc.batch_size, tc.shuffle_buffer, tc.seed + epoch)
        losses = train_epoch(objective, batches, optimizers)
        seconds = time.perf_counter() - began
        rows = float(gather(np.array([losses["rows"]])).sum())
        metrics: dict[str, Any] = {
            "epoch": epoch,
            "started_at_epoch": start,  # > 0: this worker group resumed from a checkpoint
            "train/rows": rows,
            "train/seconds": seconds,
            "train/samples_per_s": rows / seconds if seconds > 0 else 0.0,
            **{f"train/{k}": v for k, v in losses.items() if k != "rows"},
            **_validate(
                objective,
                valid_shard,
                layout,
                tc.batch_size,
                keep_rate(reweight_negatives=tc.reweight_negatives, negative_keep_rate=cfg.features.negative_keep_rate),
            ),
            "params/full": full_size,
            "params/per_worker": shares["params"],
            "params/embedding_per_worker": shares["embedding_params"],
            "workers/pid": pids,
        }
        progress = progress.after(epoch, float(metrics[tc.select_metric]), tc.select_mode)
        if rank == 0:  # Ray forwards a worker's stdout to the driver's, prefixed with the worker
            print(_epoch_line(metrics, tc.epochs, tc.tasks), flush=True)
        _report(metrics | progress.as_metrics(), objective, optimizers)
