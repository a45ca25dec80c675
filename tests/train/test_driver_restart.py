"""A killed training driver: `mtlrec train` run again with the same run id goes on from
the latest checkpoint the killed run committed (Ray Train restores a run from its name
and storage path; `train.publish.training_inputs` names it after the run and its inputs).

The driver is a real `mtlrec train` process connected to this process's Ray cluster, as
a job's driver is to a cluster that outlives it; it is SIGKILLed once Ray has committed
its first checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import ray

from mtlrec.cli import main
from mtlrec.run import paths
from mtlrec.train.driver import best_epoch

EPOCHS = 4


def committed_epochs(run_dirs: list[Path]) -> list[int]:
    """The epochs of the checkpoints Ray's controller has committed (its snapshot lists them)."""
    snapshots = [d / "checkpoint_manager_snapshot.json" for d in run_dirs]
    return [
        int(result["metrics"]["epoch"])
        for snapshot in snapshots
        if snapshot.exists()
        for result in json.loads(snapshot.read_text())["checkpoint_results"]
    ]


@pytest.mark.slow
def test_a_killed_training_driver_resumes_from_its_latest_checkpoint(
    ray_local: None, copy_pipeline_run: Any, pipeline_summary: dict[str, Any], kill_mtlrec: Any, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    copy_pipeline_run(root, tables_too=True)
    run_id = pipeline_summary["run_id"]
    settings = [f"paths.root={root}", f"train.epochs={EPOCHS}", "train.baselines=[]", "train.patience=0"]
    argv = ["train", "--run-id", run_id, *[a for s in settings for a in ("--set", s)]]
    ray_dir = Path(paths.ray(str(root)))
    driver = {"RAY_ADDRESS": ray.get_runtime_context().gcs_address}  # the cluster outlives its driver

    def committed() -> list[int]:
        return committed_epochs(list(ray_dir.glob(f"train-{run_id}-*")))

    kill_mtlrec(argv, lambda: bool(committed()), tmp_path / "killed.log", env=driver)
    killed_after = max(committed())
    assert killed_after < EPOCHS - 1, "the driver finished its epochs before the kill"
    assert not Path(paths.model(str(root), run_id)).exists()  # no model from the killed run

    assert main(argv) == 0

    run_dirs = list(ray_dir.glob(f"train-{run_id}-*"))
    assert len(run_dirs) == 1  # the re-run restored the killed run, under its name
    history = best_epoch(str(run_dirs[0]), "valid/click_auc").history
    assert [m["epoch"] for m in history] == list(range(EPOCHS))
    resumed_at = history[-1]["started_at_epoch"]
    assert resumed_at > killed_after  # from the latest committed checkpoint (or one written after it)
    assert all(m["started_at_epoch"] == 0 for m in history[:resumed_at])  # trained once, by the killed driver
    assert Path(paths.model(str(root), run_id), "metadata.json").exists()
