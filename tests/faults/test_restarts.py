"""Dated runs after a crash or a late file: the re-run gives the tables of a clean run.

- A file landing in `dt=D` after D's run changes ingest's input fingerprint: the next
  plain run of D ingests again and builds again what follows, as `--force` would.
- A real `mtlrec run --date D` process killed (SIGKILL, its whole process group) at a
  few points, a forced run among them; a plain run of D after it completes the date.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mtlrec import schema as S
from mtlrec import storage

DAY = "2026-11-01"
RUN = f"{DAY.replace('-', '')}"
SPARK = ["spark.master=local[2]", "spark.shuffle_partitions=2", "spark.driver_memory=1g", "spark.progress=false"]


def add_late_file(raw: Path) -> None:
    """A second file in dt=DAY: 40 well-formed lines of the first one, as other events (new ids)."""
    folder = raw / f"dt={DAY}"
    first = sorted(p for p in folder.iterdir() if not p.name.startswith(("_", ".")))[0]
    late: list[str] = []
    for line in gzip.decompress(first.read_bytes()).decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the log's planted dirt
        if isinstance(record, dict) and isinstance(record.get("event_id"), str) and len(late) < 40:
            late.append(json.dumps({**record, "event_id": record["event_id"] + "-late"}))
    assert len(late) == 40
    (folder / "late-00000.json.gz").write_bytes(gzip.compress(("\n".join(late) + "\n").encode()))


@pytest.fixture(scope="module")
def late_raw(raw_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = Path(shutil.copytree(raw_log, tmp_path_factory.mktemp("late") / "raw"))
    add_late_file(raw)
    return raw


@pytest.fixture(scope="module")
def clean(late_raw: Path, cli: Any, hashes: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tables of a run of DAY that saw the late file from the start."""
    root = tmp_path_factory.mktemp("dated-clean")
    assert cli(root, "run", "--date", DAY, raw=late_raw) == 0
    assert set(storage.read_json(f"{root}/runs/{RUN}.json")["stages"]) == {"ingest", "features"}
    return hashes(root)


@pytest.mark.slow
def test_a_file_landing_in_a_done_date_runs_ingest_and_what_follows_again(
    raw_log: Path, cli: Any, hashes: Any, copy_root: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = Path(shutil.copytree(raw_log, tmp_path / "raw"))
    root = tmp_path / "root"
    assert cli(root, "run", "--date", DAY, raw=raw) == 0
    # what `--force` makes of the date once the file is there: the vocabulary only appends
    # (a known id keeps its index and count), so a fresh run is not the reference here
    forced = copy_root(root, tmp_path / "forced")
    add_late_file(raw)
    assert cli(forced, "run", "--date", DAY, "--force", raw=raw) == 0
    caplog.set_level(logging.INFO, logger="mtlrec")

    assert cli(root, "run", "--date", DAY, raw=raw) == 0

    assert f"== ingest: its inputs changed since it ran for {DAY}: runs again" in caplog.text
    assert "== features: starting" in caplog.text
    assert hashes(root) == hashes(forced)
    caplog.clear()
    assert cli(root, "run", "--date", DAY, raw=raw) == 0  # nothing new: nothing runs
    assert f"== ingest: already done for {DAY}" in caplog.text and f"== features: already done for {DAY}" in caplog.text


def _delta_commits(root: Path, table: str) -> int:
    log = root / "tables" / table / "_delta_log"
    return len(list(log.glob("*.json"))) if log.exists() else 0


def _recorded(root: Path, stage: str) -> bool:
    summary = root / "runs" / f"{RUN}.json"
    return summary.exists() and stage in json.loads(summary.read_text())["stages"]


@pytest.fixture(scope="module")
def crash_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One root for the kills below, in order: each kill leaves what the one before's re-run made."""
    return tmp_path_factory.mktemp("killed") / "root"


def _new_commit(root: Path, table: str) -> Callable[[], bool]:
    before = _delta_commits(root, table)
    return lambda: _delta_commits(root, table) > before


KILLS: dict[str, tuple[list[str], Callable[[Path], Callable[[], bool]]]] = {
    # the run summary written with ingest's record (a state file), features not yet started
    "first-run-after-ingest-recorded": ([], lambda root: lambda: _recorded(root, "ingest")),
    # a forced run: its fresh summary written, ingest's `events` commit made, the rest not
    "forced-run-after-events-commit": (["--force"], lambda root: _new_commit(root, S.EVENTS_TABLE)),
    # a forced run inside features: its first commit made, seven to go
    "forced-run-after-first-features-commit": (
        ["--force"],
        lambda root: _new_commit(root, S.USER_CATEGORY_DAILY_TABLE),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILLS))
def test_a_killed_dated_run_then_a_plain_run_gives_the_clean_tables(
    point: str,
    crash_root: Path,
    late_raw: Path,
    clean: Any,
    cli: Any,
    cli_args: Any,
    kill_mtlrec: Any,
    hashes: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flags, kill_point = KILLS[point]
    argv = ["run", "--date", DAY, *flags, *cli_args(crash_root, late_raw, SPARK)]
    kill_mtlrec(argv, kill_point(crash_root), tmp_path / "killed.log")
    caplog.set_level(logging.INFO, logger="mtlrec")

    assert cli(crash_root, "run", "--date", DAY, raw=late_raw) == 0

    assert "== features: starting" in caplog.text  # whatever the kill cut short is done again
    assert set(storage.read_json(f"{crash_root}/runs/{RUN}.json")["stages"]) == {"ingest", "features"}
    assert hashes(crash_root) == clean
