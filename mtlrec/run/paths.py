"""The folder layout of a data root, in one place.

    <root>/raw/dt=YYYY-MM-DD/        raw logs (`generate` writes them, `ingest` reads them)
    <root>/tables/<name>/            Delta tables
    <root>/models/<run_id>/          model artifacts (baselines under `baselines/<name>/`)
    <root>/reports/<run_id>/         evaluation reports
    <root>/runs/<run_id>.json        run summaries (and `latest.json`)
    <root>/ray/<name>/               Ray Train runs and their checkpoints
    <root>/state/<stage>.json        what a stage's last complete build made (features)

A run id names a folder and a file under the root: it must match `RUN_ID_PATTERN`,
so `--run-id ../..` cannot write outside the root.
"""

from __future__ import annotations

import datetime as dt
import re

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LATEST = "latest"
DATED_RUN_ID = re.compile(r"^\d{8}$")  # the run of one run date: YYYYMMDD


def dated_run_id(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def run_date(run_id: str) -> dt.date | None:
    """The run date a run id names, or None for an undated run."""
    return dt.datetime.strptime(run_id, "%Y%m%d").date() if DATED_RUN_ID.match(run_id) else None


def check_run_id(run_id: str) -> str:
    """`run_id` itself, or ValueError when it is not a safe name for a folder and a file."""
    if not RUN_ID_PATTERN.match(run_id) or ".." in run_id:
        raise ValueError(
            f"run id {run_id!r} is not allowed: letters, digits, '_', '-' and '.', "
            "at most 64, starting with a letter or digit, no '..'"
        )
    return run_id


def _base(root: str) -> str:
    return root.rstrip("/")


def raw(root: str) -> str:
    return f"{_base(root)}/raw"


def table(root: str, name: str) -> str:
    return f"{_base(root)}/tables/{name}"


def model(root: str, run_id: str) -> str:
    return f"{_base(root)}/models/{check_run_id(run_id)}"


def baseline_model(root: str, run_id: str, name: str) -> str:
    return f"{model(root, run_id)}/baselines/{name}"


def report(root: str, run_id: str) -> str:
    return f"{_base(root)}/reports/{check_run_id(run_id)}"


def runs(root: str) -> str:
    return f"{_base(root)}/runs"


def summary(root: str, run_id: str) -> str:
    return f"{runs(root)}/{run_id if run_id == LATEST else check_run_id(run_id)}.json"


def ray(root: str) -> str:
    return f"{_base(root)}/ray"


def state(root: str, stage: str) -> str:
    return f"{_base(root)}/state/{stage}.json"
