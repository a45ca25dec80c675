"""Loading a checkpoint runs no code it brings, and only a checkpoint of the run's own storage loads."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.distributed.checkpoint import CheckpointException

from mtlrec.train.checkpoint import UnsafeCheckpoint, check_location, model_state_dict, save_state
from mtlrec.train.objective import build_objective, build_optimizers

STORAGE = "/data/ray"


@pytest.mark.parametrize(
    "path",
    [
        "/data/ray/run-1/checkpoint_000001",
        "file:///data/ray/run-1/checkpoint_000001",
        "/data/ray/run-1/./checkpoint_000001/",
    ],
)
def test_a_checkpoint_in_a_run_folder_of_the_storage_is_accepted(path: str) -> None:
    check_location(path, STORAGE)


@pytest.mark.parametrize(
    "path",
    [
        "/tmp/evil/checkpoint_000001",  # elsewhere
        "/data/ray/checkpoint_000001",  # the storage itself, no run folder
        "/data/ray/run-1/../../evil/checkpoint_000001",  # climbs out
        "/data/ray-evil/run-1/checkpoint_000001",  # a sibling sharing the prefix
        "s3://data/ray/run-1/checkpoint_000001",  # another file system
    ],
)
def test_a_checkpoint_outside_the_run_storage_is_refused(path: str) -> None:
    with pytest.raises(UnsafeCheckpoint, match="refused"):
        check_location(path, STORAGE)


class _RunsCode:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("touch /tmp/pwned-by-checkpoint",))


def test_metadata_that_would_run_code_is_refused(tiny: Any, tmp_path: Path) -> None:
    cfg = tiny.config()
    objective = build_objective(cfg)
    save_state(str(tmp_path), objective, build_optimizers(objective, cfg.train))
    (tmp_path / ".metadata").write_bytes(pickle.dumps(_RunsCode()))

    # DCP gathers each rank's failure into one CheckpointException
    with pytest.raises(CheckpointException, match=r"checkpoint metadata refers to (posix|os)\.system: refused"):
        model_state_dict(str(tmp_path), build_objective(cfg))


def test_a_checkpoint_of_plain_tensors_and_settings_still_loads(tiny: Any, tmp_path: Path) -> None:
    cfg = tiny.config()
    objective = build_objective(cfg)
    save_state(str(tmp_path), objective, build_optimizers(objective, cfg.train))

    state = model_state_dict(str(tmp_path), build_objective(cfg))

    for name, tensor in objective.model.state_dict().items():
        torch.testing.assert_close(state[name], tensor)
