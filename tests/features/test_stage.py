"""The features stage over real Delta tables: daily increments and idempotent re-runs."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.run import paths

D1 = dt.date(2026, 11, 1)
DAYS = [D1 + dt.timedelta(days=n) for n in range(4)]
COMPARED = (
    S.USER_FEATURES_TABLE,
    S.ITEM_FEATURES_TABLE,
    S.USER_CATEGORY_FEATURES_TABLE,
    S.VOCABULARY_TABLE,
    S.FEATURE_STATS_TABLE,
    S.SAMPLES_TABLE,
)


def snapshot(spark: SparkSession, root: Path) -> dict[str, DataFrame]:
    """Every compared table as it is now, collected (a later run rewrites them)."""
    tabs = {name: tables.read(spark, paths.table(str(root), name)) for name in COMPARED}
    return {name: spark.createDataFrame(df.collect(), df.schema) for name, df in tabs.items()}


@pytest.mark.slow
def test_a_daily_increment_equals_a_full_build_and_re_running_changes_nothing(
    spark: SparkSession, features_run: Any, funnel_features: Any, tmp_path: Path
) -> None:
    # days 1-3 built, then day 4 added: the shared build, rebuilt here in a copy
    first, added = funnel_features.first, funnel_features.added
    incremental = snapshot(spark, funnel_features.root)
    shutil.copytree(funnel_features.root, tmp_path, dirs_exist_ok=True)
    rerun = features_run(tmp_path, DAYS, rebuild=True)

    assert first.metrics.full_rebuild and rerun.metrics.full_rebuild
    # day 4 is new: its features, the scoring date and the samples it labels (days 3, 4)
    assert added.metrics.built == {
        "daily": [DAYS[3].isoformat()],
        "features": [DAYS[3].isoformat(), (DAYS[3] + dt.timedelta(days=1)).isoformat()],
        "samples": [DAYS[2].isoformat(), DAYS[3].isoformat()],
    }
    # rebuilding every day from scratch re-runs day 4 and gives the increment's tables
    rebuilt = snapshot(spark, tmp_path)
    for name in COMPARED:
        assertDataFrameEqual(rebuilt[name], incremental[name])
    assert rerun.metrics.samples == added.metrics.samples
    # indexes do not depend on any model's table size: every user of the vocabulary keeps its own
    vocabulary = added.metrics.vocabulary[S.USER_ID]
    assert 8 < incremental[S.SAMPLES_TABLE].agg(F.max("user_idx")).first()[0] <= vocabulary["last_index"]


@pytest.mark.slow
def test_rolling_splits_move_with_the_last_event_day(spark: SparkSession, features_run: Any, tmp_path: Path) -> None:
    rolling = {"valid_start": None, "test_start": None, "valid_days": 1, "test_days": 1}

    def split_of_day(day: dt.date) -> set[str]:
        samples = tables.read(spark, paths.table(str(tmp_path), S.SAMPLES_TABLE))
        return {r[S.SPLIT] for r in samples.where(F.col(S.DT) == F.lit(day)).select(S.SPLIT).distinct().collect()}

    three = features_run(tmp_path, DAYS[:3], **rolling)
    assert three.metrics.splits == {"valid_start": DAYS[1].isoformat(), "test_start": DAYS[2].isoformat()}
    assert split_of_day(DAYS[2]) == {S.TEST}
    four = features_run(tmp_path, DAYS, **rolling)  # the next day's run: the window moves a day
    assert four.metrics.splits == {"valid_start": DAYS[2].isoformat(), "test_start": DAYS[3].isoformat()}
    assert split_of_day(DAYS[2]) == {S.VALID} and split_of_day(DAYS[3]) == {S.TEST}
    assert split_of_day(DAYS[1]) == {S.TRAIN} and not four.metrics.full_rebuild  # the aggregates stay
