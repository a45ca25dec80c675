from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.features.sampling import down_sampled, first_interactions, negatives, popularity

D1 = dt.date(2026, 11, 1)
T1 = dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)
ITEM_DAILY_DDL = (
    "dt date, item_id string, impressions long, clicks long, carts long, purchases long, "
    "price double, category_id string"
)
EXPOSURE_DDL = (
    "event_id string, ts timestamp, user_id string, item_id string, category_id string, price double, dt date, "
    "sampled boolean"
)


def clicks_of(spark: SparkSession, rows: list[tuple[str, str, str]]) -> DataFrame:
    """Click exposures (event_id, user_id, item_id) at T1."""
    return spark.createDataFrame([(e, T1, u, i, "c1", 1.0, D1, False) for e, u, i in rows], EXPOSURE_DDL)


def interactions_of(spark: SparkSession, pairs: list[tuple[str, str, dt.date]]) -> DataFrame:
    return spark.createDataFrame(pairs, "user_id string, item_id string, first_dt date")


def test_negatives_are_popular_items_the_user_never_touched_marked_sampled(spark: SparkSession) -> None:
    items = spark.createDataFrame(
        [
            (D1, "i1", 3, 0, 0, 0, 1.0, "c1"),  # the most popular, but u1 clicked it
            (D1, "i2", 1, 0, 0, 0, 2.0, "c2"),
            (D1, "i3", 0, 0, 0, 0, 3.0, "c3"),  # no events that day: never drawn
            (D1 - dt.timedelta(days=1), "i4", 9, 0, 0, 0, 4.0, "c4"),  # another day's popularity
        ],
        ITEM_DAILY_DDL,
    )
    positives = clicks_of(spark, [("k1", "u1", "i1")])
    touched = interactions_of(spark, [("u1", "i1", D1)])

    actual = negatives(positives, items=popularity(items), interactions=touched, ratio=8, seed=3)

    # eight draws of i1 (3/4) or i2 (1/4): i1 is dropped, i2 kept once
    expected = spark.createDataFrame([("k1#neg:i2", T1, "u1", "i2", "c2", 2.0, D1, True)], EXPOSURE_DDL)
    assertDataFrameEqual(actual, expected)


def test_an_item_touched_only_after_the_day_can_still_be_a_negative(spark: SparkSession) -> None:
    items = spark.createDataFrame([(D1, "i2", 1, 0, 0, 0, 2.0, "c2")], ITEM_DAILY_DDL)
    positives = clicks_of(spark, [("k1", "u1", "i1")])
    later = D1 + dt.timedelta(days=1)

    actual = negatives(
        positives, items=popularity(items), interactions=interactions_of(spark, [("u1", "i2", later)]), ratio=2, seed=3
    )

    assert [r[S.ITEM_ID] for r in actual.collect()] == ["i2"]


@pytest.mark.slow
def test_negatives_follow_popularity_and_the_seed(spark: SparkSession) -> None:
    items = spark.createDataFrame(
        [(D1, "popular", 9, 0, 0, 0, 1.0, "c1"), (D1, "rare", 1, 0, 0, 0, 1.0, "c1")], ITEM_DAILY_DDL
    )
    positives = spark.range(2000).select(
        F.format_string("k%d", "id").alias(S.EVENT_ID),
        F.lit(T1).alias(S.TS),
        F.format_string("u%d", "id").alias(S.USER_ID),
        F.lit("clicked").alias(S.ITEM_ID),
        F.lit("c1").alias(S.CATEGORY_ID),
        F.lit(1.0).alias(S.PRICE),
        F.lit(D1).alias(S.DT),
        F.lit(False).alias(S.SAMPLED),
    )
    none_touched = first_interactions(spark.createDataFrame([], S.EVENTS_SCHEMA))

    def draw(seed: int) -> DataFrame:
        return negatives(positives, items=popularity(items), interactions=none_touched, ratio=1, seed=seed)

    drawn = draw(7)
    share = drawn.agg(F.avg((F.col(S.ITEM_ID) == F.lit("popular")).cast("double"))).first()[0]
    assert drawn.count() == 2000
    assert 0.87 < share < 0.93
    assertDataFrameEqual(draw(7), drawn)
    assert draw(8).exceptAll(drawn).count() > 0


def test_down_sampling_keeps_clicks_and_valid_rows_and_weights_kept_negatives(spark: SparkSession) -> None:
    rows = spark.range(4000).select(
        F.format_string("e%d", "id").alias(S.EVENT_ID),
        F.when(F.col("id") % 4 == 0, F.lit(S.VALID)).otherwise(F.lit(S.TRAIN)).alias(S.SPLIT),
        F.when(F.col("id") % 4 == 1, F.lit(1.0))
        .when(F.col("id") % 4 == 2, F.lit(None))
        .otherwise(F.lit(0.0))
        .cast("float")
        .alias(S.CLICK),
    )

    kept = down_sampled(rows, keep_rate=0.25, seed=1)

    by_kind = {
        (r[S.SPLIT], r[S.CLICK], r[S.KEEP_RATE], r[S.WEIGHT]): r["n"]
        for r in kept.groupBy(S.SPLIT, S.CLICK, S.KEEP_RATE, S.WEIGHT).count().withColumnRenamed("count", "n").collect()
    }
    assert by_kind[(S.VALID, 0.0, 1.0, 1.0)] == 1000  # id % 4 == 0: valid, all kept
    assert by_kind[(S.TRAIN, 1.0, 1.0, 1.0)] == 1000  # clicked: all kept
    # non-clicked train rows (a null click is not a click): about a quarter, weighted 4
    assert 180 < by_kind[(S.TRAIN, None, 0.25, 4.0)] < 320
    assert 180 < by_kind[(S.TRAIN, 0.0, 0.25, 4.0)] < 320
    assert set(by_kind) == {
        (S.VALID, 0.0, 1.0, 1.0),
        (S.TRAIN, 1.0, 1.0, 1.0),
        (S.TRAIN, None, 0.25, 4.0),
        (S.TRAIN, 0.0, 0.25, 4.0),
    }
    assert kept.columns == [S.EVENT_ID, S.SPLIT, S.CLICK, S.KEEP_RATE, S.WEIGHT]
