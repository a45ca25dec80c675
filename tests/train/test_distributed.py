"""Ray Train fits on two workers: FSDP sharding, cross-worker metrics, fault tolerance.

Each fit costs ~30 s, so there are two: one FSDP run shared by the sharding and metric
tests, and one DDP run whose worker the test kills.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import deltalake
import numpy as np
import pytest
import torch

from mtlrec import schema as S
from mtlrec.config import PathsConfig
from mtlrec.layout import feature_layout
from mtlrec.metrics import task_metrics
from mtlrec.models import build_model, collate
from mtlrec.run import paths
from mtlrec.train.driver import TrainingResult, run_training, trained_model_state
from mtlrec.train.validation import user_keys

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fsdp_run(
    ray_local: None, samples_table: str, tiny: Any, tmp_path_factory: pytest.TempPathFactory
) -> TrainingResult:
    root = tmp_path_factory.mktemp("fsdp")
    cfg = tiny.config(parallelism="fsdp", epochs=2)
    # a data root's Ray storage, where loading a checkpoint accepts it from
    return run_training(
        cfg, samples_path=samples_table, samples_version=0, storage_path=paths.ray(str(root)), name="fsdp"
    )


def test_fsdp_workers_each_hold_about_half_of_every_parameter_embeddings_included(
    fsdp_run: TrainingResult, tiny: Any
) -> None:
    metrics = fsdp_run.best
    full, shares = metrics["params/full"], metrics["params/per_worker"]
    tables = sum(tiny.model.buckets(f.source) for f in feature_layout(tiny.tasks).sparse) * tiny.model.embedding_dim

    assert len(shares) == 2 and sum(shares) == full
    assert all(abs(share - full / 2) <= 0.02 * full for share in shares)
    assert metrics["params/embedding_per_worker"] == [tables // 2, tables // 2]


def test_sharded_checkpoint_loads_into_one_process_and_reproduces_the_cross_worker_metrics(
    fsdp_run: TrainingResult, samples_table: str, tiny: Any
) -> None:
    root = str(Path(fsdp_run.checkpoint_path).parents[2])  # <root>/ray/fsdp/checkpoint_...
    cfg = dataclasses.replace(tiny.config(parallelism="fsdp"), paths=PathsConfig(root=root))
    layout = feature_layout(tiny.tasks)
    model = build_model(tiny.model, layout)
    model.load_state_dict(trained_model_state(cfg, fsdp_run.checkpoint_path))  # 2 shards -> 1 process
    model.eval()
    valid = deltalake.DeltaTable(samples_table).to_pandas(filters=[(S.SPLIT, "=", S.VALID)])
    batch = collate({c: valid[c].to_numpy() for c in valid.columns}, layout)
    with torch.no_grad():
        logits = model(batch)
    probs = torch.stack([torch.sigmoid(logits[t]) for t in tiny.tasks], dim=1).numpy()

    expected = task_metrics(
        batch.labels.numpy(),  # type: ignore[union-attr]
        probs,
        tiny.tasks,
        weights=batch.weights.numpy(),
        groups=user_keys(valid[S.USER_ID].to_numpy()),
    )

    recorded = fsdp_run.best
    assert recorded["valid/rows"] == tiny.rows[S.VALID]  # every valid row, though 1001 does not split in two
    for task in tiny.tasks:
        for name in ("auc", "gauc", "logloss", "calibration"):
            assert recorded[f"valid/{task}_{name}"] == pytest.approx(expected[task][name], rel=1e-4), (task, name)


def _kill_a_worker_once_a_checkpoint_is_committed(run_dir: Path, epochs: int, killed: dict[str, int]) -> None:
    """SIGKILL rank 1 of the worker group once Ray has committed a checkpoint and epochs remain.

    A checkpoint folder appears before Ray's controller commits it; the controller's
    snapshot lists the committed ones, which a restarted worker group resumes from.
    """
    snapshot = run_dir / "checkpoint_manager_snapshot.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        committed = json.loads(snapshot.read_text())["checkpoint_results"] if snapshot.exists() else []
        if committed:
            metrics = committed[-1]["metrics"]
            if metrics["epoch"] < epochs - 2:
                os.kill(metrics["workers/pid"][1], signal.SIGKILL)
                killed |= {"epoch": metrics["epoch"], "pid": metrics["workers/pid"][1]}
            return
        time.sleep(0.02)


def test_a_killed_worker_makes_the_run_resume_from_its_latest_checkpoint(
    ray_local: None, samples_table: str, tiny: Any, tmp_path: Path
) -> None:
    cfg = tiny.config(epochs=6, batch_size=64, max_failures=1)
    killed: dict[str, int] = {}
    killer = threading.Thread(
        target=_kill_a_worker_once_a_checkpoint_is_committed, args=(tmp_path / "ft", cfg.train.epochs, killed)
    )
    killer.start()
    result = run_training(cfg, samples_path=samples_table, samples_version=0, storage_path=str(tmp_path), name="ft")
    killer.join()

    assert killed, "the run ended before a worker could be killed"
    history = result.history
    assert [m["epoch"] for m in history] == list(range(6))  # the run completed, each epoch once
    resumed_at = {m["started_at_epoch"] for m in history} - {0}
    assert len(resumed_at) == 1  # one restart ...
    start = resumed_at.pop()
    assert start > killed["epoch"]  # ... from the latest checkpoint committed before the kill, or a later one
    assert all(m["started_at_epoch"] == 0 for m in history[:start])  # epochs before it trained once
    assert all(m["started_at_epoch"] == start for m in history[start:])
    assert all(killed["pid"] not in m["workers/pid"] for m in history[start:])  # by a new worker group
    assert np.isfinite(result.best["valid/click_auc"])
