"""`features` crashed after each of its Delta commits, then run again: the tables of a clean run.

The crashes come in turn on one root, as a flaky job retried by a scheduler would meet
them: the k-th crashed run starts from what the (k-1)-th left, so when it crashes the
tables hold what a single crash after commit k leaves (tables 1..k rewritten, the rest
as before the build), and its own commits must already equal a clean run's.

The build crashed is a daily increment (day 2 after day 1), run undated as `mtlrec
features` runs it: it plans from what the last complete build recorded, so a crash
after the first commit (day 2 already in `user_category_daily`) still leaves day 2
to build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mtlrec import schema as S
from mtlrec import storage

COMMITS = [
    S.USER_CATEGORY_DAILY_TABLE,
    S.ITEM_DAILY_TABLE,
    S.USER_FEATURES_TABLE,
    S.USER_CATEGORY_FEATURES_TABLE,
    S.ITEM_FEATURES_TABLE,
    S.VOCABULARY_TABLE,
    S.FEATURE_STATS_TABLE,
    S.SAMPLES_TABLE,
]
DAY_2 = "2026-11-02"


@pytest.fixture(scope="module")
def day_two_ingested(raw_log: Path, cli: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Day 1 run (ingest, features; train waits for valid samples), day 2 ingested."""
    root = tmp_path_factory.mktemp("features-base")
    assert cli(root, "run", "--date", "2026-11-01", raw=raw_log) == 0
    assert cli(root, "ingest", "--date", DAY_2, raw=raw_log) == 0
    return root


@pytest.fixture(scope="module")
def clean(
    day_two_ingested: Path, raw_log: Path, cli: Any, crash: Any, hashes: Any, copy_root: Any, tmp_path_factory: Any
) -> Any:
    root = copy_root(day_two_ingested, tmp_path_factory.mktemp("features-clean") / "root")
    with crash(None) as seen:
        assert cli(root, "features", raw=raw_log) == 0
    assert seen == COMMITS
    built = storage.read_json(f"{root}/runs/latest.json")["metrics"]["features"]["built"]
    assert built["daily"] == [DAY_2]  # an increment: day 1 is not built again
    return hashes(root)


@pytest.mark.slow
def test_features_crashed_after_each_commit_in_turn_then_run_again_gives_the_clean_tables(
    clean: Any, day_two_ingested: Path, raw_log: Path, cli: Any, crash: Any, hashes: Any, copy_root: Any, tmp_path: Path
) -> None:
    root = copy_root(day_two_ingested, tmp_path / "root")
    for k in range(1, len(COMMITS) + 1):
        # the k-th crash starts from what the (k-1)-th left: tables 1..k-1 rewritten, the rest as before
        with crash(k) as seen:
            assert cli(root, "features", raw=raw_log) == 1
        assert seen == COMMITS[:k], f"the run after a crash at commit {k - 1} planned another build"
        assert hashes(root, COMMITS[:k]) == {t: clean[t] for t in COMMITS[:k]}, f"crash at commit {k}"

    assert cli(root, "features", raw=raw_log) == 0

    assert storage.read_json(f"{root}/runs/latest.json")["metrics"]["features"]["built"]["daily"] == [DAY_2]
    assert hashes(root) == clean
