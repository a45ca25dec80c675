"""`ingest` crashed after each of its Delta commits in turn (each crashed run starting
from what the one before left), then run again: the tables of a clean run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mtlrec import schema as S
from mtlrec import storage

# ingest crashed and run again four times
pytestmark = pytest.mark.slow

DAY = "2026-11-02"  # some of its events are late: `events` gets two partitions
COMMITS = [S.EVENTS_TABLE, S.QUARANTINE_TABLE, S.DQ_METRICS_TABLE]


@pytest.fixture(scope="module")
def clean(raw_log: Path, cli: Any, crash: Any, hashes: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("ingest-clean")
    with crash(None) as seen:
        assert cli(root, "ingest", "--date", DAY, raw=raw_log) == 0
    assert seen == COMMITS
    return hashes(root)


def test_ingest_crashed_after_each_commit_in_turn_then_run_again_gives_the_clean_tables(
    clean: Any, raw_log: Path, cli: Any, crash: Any, hashes: Any, tmp_path: Path
) -> None:
    for k in range(1, len(COMMITS) + 1):  # each crashed run starts from what the one before left
        with crash(k) as seen:
            assert cli(tmp_path, "ingest", "--date", DAY, raw=raw_log) == 1
        assert seen == COMMITS[:k]
        assert "ingest" not in storage.read_json(f"{tmp_path}/runs/20261102.json")["stages"]
        assert hashes(tmp_path, COMMITS[:k]) == {t: clean[t] for t in COMMITS[:k]}, f"crash at commit {k}"

    assert cli(tmp_path, "ingest", "--date", DAY, raw=raw_log) == 0

    assert hashes(tmp_path) == clean
