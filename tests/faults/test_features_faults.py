"""`features` crashed after each of its Delta commits, then run again: the tables of a clean run.

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


def _params() -> list[Any]:
    # the first commit is the case a plan from the tables' days got wrong; the others are slow
    return [
        pytest.param(k, marks=[] if k == 1 else [pytest.mark.slow], id=f"after-{COMMITS[k - 1]}")
        for k in range(1, len(COMMITS) + 1)
    ]


@pytest.mark.parametrize("k", _params())
def test_features_crashed_after_a_commit_then_run_again_gives_the_clean_tables(
    k: int,
    clean: Any,
    day_two_ingested: Path,
    raw_log: Path,
    cli: Any,
    crash: Any,
    hashes: Any,
    copy_root: Any,
    tmp_path: Path,
) -> None:
    root = copy_root(day_two_ingested, tmp_path / "root")
    with crash(k) as seen:
        assert cli(root, "features", raw=raw_log) == 1
    assert seen == COMMITS[:k]

    assert cli(root, "features", raw=raw_log) == 0

    assert storage.read_json(f"{root}/runs/latest.json")["metrics"]["features"]["built"]["daily"] == [DAY_2]
    assert hashes(root) == clean
