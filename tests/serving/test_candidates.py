from __future__ import annotations

import dataclasses
import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from mtlrec.serving.candidates import candidate_pairs, category_popular, popular, viewed_not_bought
from mtlrec.serving.config import ScoreConfig

DAY = dt.date(2026, 11, 8)
PAIRS_DDL = "user_id string, item_id string"


def users_df(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [("u1", "A", "B", None), ("u2", "B", None, None)],
        "user_id string, user_top1_category string, user_top2_category string, user_top3_category string",
    )


def items_df(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [
            ("a1", "A", 50.0),
            ("a2", "A", 10.0),
            ("a3", "A", None),  # never clicked: last
            ("b1", "B", 40.0),
            ("b2", "B", 5.0),
            ("c1", "C", 60.0),
        ],
        "item_id string, category_id string, item_clicks_30d double",
    )


def events_df(spark: SparkSession) -> DataFrame:
    rows = [
        ("u1", "a2", "click", dt.date(2026, 11, 7)),  # viewed, not bought: a candidate
        ("u1", "b2", "click", dt.date(2026, 11, 6)),
        ("u1", "b2", "purchase", dt.date(2026, 11, 6)),  # bought: excluded everywhere
        ("u2", "a3", "click", dt.date(2026, 11, 1)),  # viewed too long ago (viewed_days 3)
        ("u2", "c1", "purchase", dt.date(2026, 11, 8)),  # on the day itself: not yet history
    ]
    return spark.createDataFrame(rows, "user_id string, item_id string, event_type string, dt date")


def test_popular_gives_every_user_the_n_most_clicked_items(spark: SparkSession) -> None:
    actual = popular(users_df(spark), items_df(spark), n=2)

    expected = [("u1", "c1"), ("u1", "a1"), ("u2", "c1"), ("u2", "a1")]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, PAIRS_DDL))


def test_category_popular_follows_each_users_top_categories(spark: SparkSession) -> None:
    actual = category_popular(users_df(spark), items_df(spark), per_category=2, categories=2)

    expected = [("u1", "a1"), ("u1", "a2"), ("u1", "b1"), ("u1", "b2"), ("u2", "b1"), ("u2", "b2")]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, PAIRS_DDL))


def test_viewed_not_bought_keeps_recent_clicks_without_a_purchase(spark: SparkSession) -> None:
    actual = viewed_not_bought(events_df(spark), DAY, days=3)

    assertDataFrameEqual(actual, spark.createDataFrame([("u1", "a2")], PAIRS_DDL))


def test_candidates_union_the_sources_and_drop_what_the_user_bought(spark: SparkSession) -> None:
    sc = dataclasses.replace(
        ScoreConfig(), catalogue_max=3, popular=1, category_popular=1, top_categories=1, viewed_days=3
    )

    actual = candidate_pairs(users_df(spark), items_df(spark), events_df(spark), day=DAY, sc=sc, catalogue_size=6)

    # popular: c1 for both; top category A -> a1 (u1), B -> b1 (u2); viewed: a2 (u1);
    # u2 bought c1 only on DAY itself, so c1 stays
    expected = [("u1", "c1"), ("u1", "a1"), ("u1", "a2"), ("u2", "c1"), ("u2", "b1")]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, PAIRS_DDL))


def test_a_small_catalogue_is_scored_whole_except_bought_items(spark: SparkSession) -> None:
    sc = dataclasses.replace(ScoreConfig(), catalogue_max=6)

    actual = candidate_pairs(users_df(spark), items_df(spark), events_df(spark), day=DAY, sc=sc, catalogue_size=6)

    items = ["a1", "a2", "a3", "b1", "b2", "c1"]
    expected = [(u, i) for u in ("u1", "u2") for i in items if (u, i) != ("u1", "b2")]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, PAIRS_DDL))
