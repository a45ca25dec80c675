"""`ingest` crashed after each of its Delta commits, then run again: the tables of a clean run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mtlrec import schema as S
from mtlrec import storage

DAY = "2026-11-02"  # some of its events are late: `events` gets two partitions
COMMITS = [S.EVENTS_TABLE, S.QUARANTINE_TABLE, S.DQ_METRICS_TABLE]


@pytest.fixture(scope="module")
def clean(raw_log: Path, cli: Any, crash: Any, hashes: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("ingest-clean")
    with crash(None) as seen:
        assert cli(root, "ingest", "--date", DAY, raw=raw_log) == 0
    assert seen == COMMITS
    return hashes(root)


@pytest.mark.parametrize("k", range(1, len(COMMITS) + 1), ids=lambda k: f"after-{COMMITS[k - 1]}")
def test_ingest_crashed_after_a_commit_then_run_again_gives_the_clean_tables(
    k: int, clean: Any, raw_log: Path, cli: Any, crash: Any, hashes: Any, tmp_path: Path
) -> None:
    with crash(k) as seen:
        assert cli(tmp_path, "ingest", "--date", DAY, raw=raw_log) == 1
    assert seen == COMMITS[:k]
    assert "ingest" not in storage.read_json(f"{tmp_path}/runs/20261102.json")["stages"]

    assert cli(tmp_path, "ingest", "--date", DAY, raw=raw_log) == 0

    assert hashes(tmp_path) == clean
