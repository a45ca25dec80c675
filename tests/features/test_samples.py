from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.features.asof import as_of_timestamp
from mtlrec.features.samples import salted_left_join, user_side
from mtlrec.layout import COUNT_KINDS, USER_DENSE, WINDOWS, count_name

D1 = dt.date(2026, 11, 1)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(D1.year, D1.month, D1.day, hour, minute, tzinfo=dt.UTC)


def test_salted_join_gives_the_plain_left_join_with_hot_keys_spread(spark: SparkSession) -> None:
    left = spark.createDataFrame(
        [("e1", "hot", D1), ("e2", "hot", D1), ("e3", "hot", D1), ("e4", "cold", D1), ("e5", "none", D1)],
        "event_id string, user_id string, dt date",
    )
    right = spark.createDataFrame([("hot", D1, 1.0), ("cold", D1, 2.0)], "user_id string, dt date, f double")

    salted = salted_left_join(left, right, on=[S.USER_ID, S.DT], row_key=S.EVENT_ID, buckets=4, hot_rows=3)

    assert salted.columns == ["event_id", "user_id", "dt", "f"]
    assertDataFrameEqual(salted, left.join(right, on=[S.USER_ID, S.DT], how="left").select(*salted.columns))


def test_user_side_maps_the_click_sequence_to_item_indexes_padded_with_oov(spark: SparkSession) -> None:
    dense = ", ".join(f"{c} double" for c in USER_DENSE)
    users = spark.createDataFrame(
        [("u1", D1, *[1.0] * len(USER_DENSE), ["i2", "i9", "i1"]), ("u2", D1, *[2.0] * len(USER_DENSE), [])],
        f"user_id string, dt date, {dense}, user_click_items array<string>",
    )
    item_index = spark.createDataFrame([("i1", 1), ("i2", 2)], "item_id string, item_idx long")

    actual = user_side(users, item_index=item_index, sequence_length=4).select(S.USER_ID, S.DT, "user_click_seq")

    expected = spark.createDataFrame(
        [("u1", D1, [2, 0, 1, 0]), ("u2", D1, [0, 0, 0, 0])],
        "user_id string, dt date, user_click_seq array<long>",
    )
    assertDataFrameEqual(actual, expected)


COUNTS = [
    *[count_name(p, k, w) for p in ("user", "item") for k in COUNT_KINDS for w in WINDOWS],
    *[count_name("uc", k, 30) for k in COUNT_KINDS],
]


@pytest.mark.slow
def test_timestamp_point_in_time_adds_only_events_strictly_before_the_exposure(
    spark: SparkSession, events_of: Any
) -> None:
    events = events_of(
        [
            ("x", at(12), "u1", "i1", "impression", "c1", 1.0),  # the exposure itself
            ("a", at(9), "u1", "i2", "click", "c1", 1.0),  # the user, in the same category, earlier
            ("c", at(11), "u2", "i1", "click", "c1", 1.0),  # the item, earlier
            ("b", at(12), "u2", "i1", "impression", "c1", 1.0),  # the item at the very same time: not before
            ("d", at(13), "u1", "i1", "purchase", "c1", 1.0),  # later
        ]
    )
    # the day-level row: one click of the user before the day
    day_level = {c: (1 if c.startswith("user_clicks") else 0) for c in COUNTS}
    samples = spark.createDataFrame(
        [("x", at(12), "u1", "i1", "c1", D1, *day_level.values(), 3, None)],
        ", ".join(
            [
                "event_id string, ts timestamp, user_id string, item_id string, category_id string, dt date",
                *[f"{c} long" for c in COUNTS],
                "user_days_since_last int, item_days_since_last int",
            ]
        ),
    )

    actual = as_of_timestamp(samples, events)

    assert actual.columns == samples.columns
    changed = {c: v for c, v in actual.first().asDict().items() if v != samples.first()[c]}
    assert changed == {
        **{count_name("user", "clicks", w): 2 for w in WINDOWS},
        **{count_name("item", "clicks", w): 1 for w in WINDOWS},
        "uc_clicks_30d": 1,
        "user_days_since_last": 0,
        "item_days_since_last": 0,
    }
    assert actual.where(F.col("item_impressions_1d") == 0).count() == 1
