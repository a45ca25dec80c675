from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from mtlrec.serving.candidates import candidate_pairs, category_popular, popular, viewed_not_bought
from mtlrec.serving.config import ScoreConfig
from mtlrec.serving.scored import IN_WINDOW, LAST_KNOWN, NO_ROW, ROW_DAY, user_paths, users_as_of

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


@pytest.mark.slow
def test_every_user_with_an_event_is_served_from_the_days_row_its_last_known_row_or_none(
    spark: SparkSession,
) -> None:
    feature_rows = [
        ("active", DAY, "A", 3.0),
        ("active", DAY - dt.timedelta(days=1), "B", 9.0),  # an older row: not this one
        ("lapsed", DAY - dt.timedelta(days=40), "C", 1.0),
        ("lapsed", DAY - dt.timedelta(days=35), "B", 2.0),  # the last known row
        ("future", DAY + dt.timedelta(days=1), "A", 5.0),  # only after the day: not known yet
    ]
    user_features = spark.createDataFrame(
        feature_rows, "user_id string, dt date, user_top1_category string, user_clicks_30d double"
    )
    events = spark.createDataFrame(
        [
            ("active", "a1", "click", DAY - dt.timedelta(days=2)),
            ("lapsed", "b1", "click", DAY - dt.timedelta(days=65)),
            ("no_row", "c1", "impression", DAY - dt.timedelta(days=90)),  # events, yet no feature row
            ("future", "a1", "click", DAY),  # first event on the day itself: not a user yet
        ],
        "user_id string, item_id string, event_type string, dt date",
    )

    users = users_as_of(user_features, events, DAY)

    expected = spark.createDataFrame(
        [
            ("active", DAY, "A", 3.0, DAY),
            ("lapsed", DAY, "B", 2.0, DAY - dt.timedelta(days=35)),
            ("no_row", DAY, None, None, None),
        ],
        f"user_id string, dt date, user_top1_category string, user_clicks_30d double, {ROW_DAY} date",
    )
    assertDataFrameEqual(users, expected)
    assert user_paths(users, DAY) == {IN_WINDOW: 1, LAST_KNOWN: 1, NO_ROW: 1}
    # the lapsed user's top category still brings its popular items
    pairs = candidate_pairs(
        users.drop(ROW_DAY),
        items_df(spark),
        events,
        day=DAY,
        sc=dataclasses.replace(ScoreConfig(), catalogue_max=0, popular=1, category_popular=1),
        catalogue_size=6,
    )
    assert {(r.user_id, r.item_id) for r in pairs.collect()} >= {("lapsed", "b1"), ("no_row", "c1")}
