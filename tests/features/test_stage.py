"""The features stage over real Delta tables: daily increments and idempotent re-runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.config import Config
from mtlrec.features import stage
from mtlrec.features.config import FeaturesConfig
from mtlrec.models.config import ModelConfig
from mtlrec.run import paths
from mtlrec.run.summary import RunSummary, StageReport

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


def funnel(spark: SparkSession, days: int) -> DataFrame:
    """60 impressions on each of the first `days` days of 12 users and 8 items; a third
    clicked, half of those bought. A day's events are the same whatever `days` is."""
    n = F.col("id")
    pick = lambda salt, k: F.pmod(F.xxhash64(F.lit(salt), n), F.lit(k))  # noqa: E731
    day = F.date_add(F.lit(D1), (n / 60).cast("int"))
    shown = F.timestamp_seconds(F.unix_timestamp(day.cast("timestamp")) + pick("t", 72_000))
    base = spark.range(60 * days).select(
        n,
        shown.alias("shown"),
        F.format_string("u%d", pick("u", 12)).alias(S.USER_ID),
        pick("i", 8).alias("i"),
        (pick("c", 3) == 0).alias("clicked"),
        (pick("p", 2) == 0).alias("bought"),
    )
    kinds = [
        (S.IMPRESSION, 0, F.lit(True)),
        (S.CLICK, 300, F.col("clicked")),
        (S.PURCHASE, 1800, F.col("clicked") & F.col("bought")),
    ]
    steps = F.array(*[F.when(cond, F.struct(F.lit(k).alias("k"), F.lit(s).alias("s"))) for k, s, cond in kinds])
    ts = F.timestamp_seconds(F.unix_timestamp("shown") + F.col("e.s"))
    return base.select("*", F.explode(F.filter(steps, lambda e: e.isNotNull())).alias("e")).select(
        F.format_string("ev-%d-%s", n, F.col("e.k")).alias(S.EVENT_ID),
        ts.alias(S.TS),
        S.USER_ID,
        F.format_string("i%d", F.col("i")).alias(S.ITEM_ID),
        F.col("e.k").alias(S.EVENT_TYPE),
        F.format_string("c%d", F.col("i") % 3).alias(S.CATEGORY_ID),
        (F.col("i") + F.lit(1.0)).alias(S.PRICE),
        F.to_date(ts).alias(S.DT),
    )


def features_run(spark: SparkSession, root: Path, days: list[dt.date], **features: object) -> StageReport:
    """Write `days` of events (replacing those dates), then run the stage as a new run would."""
    events_path = paths.table(str(root), S.EVENTS_TABLE)
    version = tables.replace_dates(funnel(spark, len(days)), events_path, days)
    fc = FeaturesConfig(valid_start=DAYS[2], test_start=DAYS[3], attribution_hours=3, **features)  # type: ignore[arg-type]
    cfg = Config(features=fc, model=ModelConfig(user_buckets=8, item_buckets=64, category_buckets=8))
    cfg = dataclasses.replace(cfg, paths=dataclasses.replace(cfg.paths, root=str(root)))
    summary = RunSummary.new(str(root), cfg.to_dict())
    summary.record("ingest", 0.0, StageReport(tables={S.EVENTS_TABLE: version}))
    return stage.run(cfg, summary)


def snapshot(spark: SparkSession, root: Path) -> dict[str, DataFrame]:
    """Every compared table as it is now, collected (a later run rewrites them)."""
    tabs = {name: tables.read(spark, paths.table(str(root), name)) for name in COMPARED}
    return {name: spark.createDataFrame(df.collect(), df.schema) for name, df in tabs.items()}


@pytest.mark.slow
def test_a_daily_increment_equals_a_full_build_and_re_running_changes_nothing(
    spark: SparkSession, tmp_path: Path
) -> None:
    first = features_run(spark, tmp_path, DAYS[:3])
    added = features_run(spark, tmp_path, DAYS)
    incremental = snapshot(spark, tmp_path)
    rerun = features_run(spark, tmp_path, DAYS, rebuild=True)

    assert first.metrics["features"]["full_rebuild"] and rerun.metrics["features"]["full_rebuild"]
    # day 4 is new: its features, the scoring date and the samples it labels (days 3, 4)
    assert added.metrics["features"]["built"] == {
        "daily": [DAYS[3].isoformat()],
        "features": [DAYS[3].isoformat(), (DAYS[3] + dt.timedelta(days=1)).isoformat()],
        "samples": [DAYS[2].isoformat(), DAYS[3].isoformat()],
    }
    # rebuilding every day from scratch re-runs day 4 and gives the increment's tables
    rebuilt = snapshot(spark, tmp_path)
    for name in COMPARED:
        assertDataFrameEqual(rebuilt[name], incremental[name])
    assert rerun.metrics["samples"] == added.metrics["samples"]
    # the tiny vocabulary (8 user rows) overflows: the model never sees an index beyond it
    assert added.metrics["features"]["vocabulary"][S.USER_ID]["beyond_table"] > 0
    assert incremental[S.SAMPLES_TABLE].agg(F.max("user_idx")).first()[0] < 8
