"""`evaluate` and `score` crashed after each of their Delta commits, then run again:
the tables of the clean run. Both run on one trained root, each crash and re-run on
top of the tables the run before left.

A stage's crashes come in turn, as in the `features` fault test: the k-th crashed run
starts from what the (k-1)-th left, its own commits must already equal a clean run's,
and the run after the last crash gives every table of the clean run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mtlrec import schema as S

COMMITS = {
    "evaluate": [
        S.BEHAVIOUR_FUNNEL_DAILY_TABLE,
        S.BEHAVIOUR_FUNNEL_CATEGORY_TABLE,
        S.BEHAVIOUR_COHORTS_TABLE,
        S.BEHAVIOUR_CATEGORY_TRENDS_TABLE,
    ],
    "score": [S.RECOMMENDATIONS_TABLE, S.LEADERBOARD_TABLE],
}


@pytest.fixture(scope="module")
def trained(raw_log: Path, cli: Any, crash: Any, hashes: Any, ray_local: None, tmp_path_factory: Any) -> Any:
    """A whole `mtlrec run` over the three days; its tables' hashes and the commits of each stage."""
    root = tmp_path_factory.mktemp("trained")
    with crash(None) as seen:
        assert cli(root, "run", raw=raw_log) == 0
    for stage, names in COMMITS.items():
        assert [n for n in seen if n in names] == names, stage
    return root, hashes(root)


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(COMMITS))
def test_a_stage_crashed_after_each_commit_in_turn_then_run_again_gives_the_clean_tables(
    stage: str, trained: Any, raw_log: Path, cli: Any, crash: Any, hashes: Any
) -> None:
    root, clean = trained
    names = COMMITS[stage]
    for k in range(1, len(names) + 1):
        with crash(k) as seen:
            assert cli(root, stage, raw=raw_log) == 1
        assert seen == names[:k]
        assert hashes(root, names[:k]) == {t: clean[t] for t in names[:k]}, f"crash at commit {k}"

    assert cli(root, stage, raw=raw_log) == 0

    assert hashes(root) == clean
