from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.config import ModelConfig
from mtlrec.features.transforms import (
    daily_counts,
    history,
    labelled_impressions,
    samples,
    split_by_date,
)
from mtlrec.layout import DENSE, ITEM_DENSE, USER_DENSE, feature_layout

D1, D2, D3, END = (dt.date(2026, 11, d) for d in (1, 2, 3, 4))
UTC = dt.UTC
HISTORY_DDL = "user_id string, dt date, impressions long, clicks long, purchases long, price double, category_id string"
LABELLED_DDL = (
    "event_id string, ts timestamp, user_id string, item_id string, category_id string, "
    "price double, dt date, click float, purchase float"
)


def at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def events_df(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    """Rows of (event_id, ts, user_id, item_id, event_type, category_id, price); dt from ts."""
    return spark.createDataFrame([(*r, r[1].date()) for r in rows], S.EVENTS_SCHEMA)


# u1 is active on D1, D2 and D3; u2 only on D2, with neither price nor category
ACTIVITY = [
    ("a1", at(D1, 10), "u1", "i1", "impression", "c1", 10.0),
    ("a2", at(D1, 10, 5), "u1", "i1", "click", "c1", 10.0),
    ("a3", at(D1, 11), "u1", "i2", "impression", "c2", 20.0),
    ("b1", at(D2, 9), "u1", "i2", "impression", None, None),
    ("x1", at(D2, 12), "u2", "i1", "impression", None, None),
    ("c1", at(D3, 8), "u1", "i2", "click", "c2", 20.0),
    ("c2", at(D3, 8, 30), "u1", "i2", "purchase", "c3", 25.0),
]


def user_history(events: DataFrame) -> DataFrame:
    return history(daily_counts(events, key=S.USER_ID), key=S.USER_ID, end=END)


def test_history_sums_only_days_before_each_day_and_everything_at_end(spark: SparkSession) -> None:
    actual = user_history(events_df(spark, ACTIVITY))

    expected = spark.createDataFrame(
        [
            ("u1", D1, 0, 0, 0, None, None),
            ("u1", D2, 2, 1, 0, 20.0, "c2"),
            # D2's last price is unknown: the last known one carries over
            ("u1", D3, 3, 1, 0, 20.0, "c2"),
            ("u1", END, 3, 2, 1, 25.0, "c3"),
            ("u2", D2, 0, 0, 0, None, None),
            ("u2", END, 1, 0, 0, None, None),
        ],
        HISTORY_DDL,
    )
    assertDataFrameEqual(actual, expected)


def test_history_row_of_a_day_ignores_events_of_that_day_and_later(spark: SparkSession) -> None:
    same_day_and_later = [
        ("b2", at(D2, 9, 10), "u1", "i2", "click", "c9", 99.0),
        ("b3", at(D2, 13), "u2", "i1", "purchase", None, 5.0),
        ("c3", at(D3, 9), "u1", "i1", "impression", "c1", 10.0),
    ]
    before = user_history(events_df(spark, ACTIVITY)).where(F.col(S.DT) <= F.lit(D2))
    after = user_history(events_df(spark, ACTIVITY + same_day_and_later))

    assertDataFrameEqual(after.where(F.col(S.DT) <= F.lit(D2)), before)
    # the extra events are not lost: the end row counts them
    assertDataFrameEqual(
        after.where(F.col(S.DT) == F.lit(END)),
        spark.createDataFrame(
            [("u1", END, 4, 3, 1, 10.0, "c1"), ("u2", END, 1, 0, 1, 5.0, None)],
            HISTORY_DDL,
        ),
    )


def test_impression_is_clicked_only_by_same_user_and_item_within_the_click_window(spark: SparkSession) -> None:
    events = events_df(
        spark,
        [
            ("m1", at(D1, 10), "u1", "i1", "impression", "c1", 10.0),
            ("k1", at(D1, 10, 30), "u1", "i1", "click", "c1", 10.0),  # exactly at the window's end
            ("m2", at(D1, 12), "u1", "i2", "impression", None, None),
            ("k2", at(D1, 11, 59), "u1", "i2", "click", None, None),  # before the impression
            ("k3", at(D1, 12, 30, 1), "u1", "i2", "click", None, None),  # one second too late
            ("m3", at(D1, 10), "u2", "i1", "impression", "c1", 10.0),  # u1 clicks i1, not u2
            ("k4", at(D1, 10, 1), "u2", "i3", "click", "c3", 1.0),  # u2 clicks another item
        ],
    )

    actual = labelled_impressions(events, click_minutes=30, purchase_hours=24)

    expected = spark.createDataFrame(
        [
            ("m1", at(D1, 10), "u1", "i1", "c1", 10.0, D1, 1.0, 0.0),
            ("m2", at(D1, 12), "u1", "i2", None, None, D1, 0.0, 0.0),
            ("m3", at(D1, 10), "u2", "i1", "c1", 10.0, D1, 0.0, 0.0),
        ],
        LABELLED_DDL,
    )
    assertDataFrameEqual(actual, expected)


def test_impression_is_purchased_within_the_purchase_window_with_or_without_a_click(
    spark: SparkSession,
) -> None:
    events = events_df(
        spark,
        [
            ("m1", at(D1, 10), "u1", "i1", "impression", "c1", 10.0),
            ("p1", at(D2, 10), "u1", "i1", "purchase", "c1", 10.0),  # exactly 24 hours later
            ("m2", at(D1, 12), "u1", "i2", "impression", "c2", 20.0),
            ("k2", at(D1, 12, 10), "u1", "i2", "click", "c2", 20.0),
            ("p2", at(D2, 12, 1), "u1", "i2", "purchase", "c2", 20.0),  # a minute too late
        ],
    )

    actual = labelled_impressions(events, click_minutes=30, purchase_hours=24)

    expected = spark.createDataFrame(
        [
            ("m1", at(D1, 10), "u1", "i1", "c1", 10.0, D1, 0.0, 1.0),
            ("m2", at(D1, 12), "u1", "i2", "c2", 20.0, D1, 1.0, 0.0),
        ],
        LABELLED_DDL,
    )
    assertDataFrameEqual(actual, expected)


def test_split_by_date_puts_valid_start_in_valid_and_test_start_in_test(spark: SparkSession) -> None:
    days = spark.createDataFrame([(dt.date(2026, 11, d),) for d in (5, 6, 7, 8, 9)], "dt date")

    split = split_by_date(valid_start=dt.date(2026, 11, 6), test_start=dt.date(2026, 11, 8))

    actual = days.select(S.DT, split.alias(S.SPLIT))

    expected = spark.createDataFrame(
        [
            (dt.date(2026, 11, 5), "train"),
            (dt.date(2026, 11, 6), "valid"),
            (dt.date(2026, 11, 7), "valid"),
            (dt.date(2026, 11, 8), "test"),
            (dt.date(2026, 11, 9), "test"),
        ],
        "dt date, split string",
    )
    assertDataFrameEqual(actual, expected)


VALID_START, TEST_START = dt.date(2026, 11, 6), dt.date(2026, 11, 7)
BEFORE_VALID = VALID_START - dt.timedelta(days=1)
LAYOUT = feature_layout(ModelConfig(), ("click", "purchase"))


def samples_inputs(spark: SparkSession) -> tuple[DataFrame, DataFrame, DataFrame]:
    labelled = spark.createDataFrame(
        [
            ("s1", at(VALID_START, 10), "u1", "i1", "c1", 3.0, VALID_START, 1.0, 0.0),
            ("s2", at(BEFORE_VALID, 10), "u2", "i1", None, None, BEFORE_VALID, 0.0, 0.0),
            ("s3", at(TEST_START, 10), "u1", "i2", "c2", 0.0, TEST_START, 0.0, 1.0),
        ],
        LABELLED_DDL,
    )
    user_cols = ", ".join(f"{c} double" for c in USER_DENSE)
    # u1 as of the day before valid and as of valid; no row for u2, nor for u1 on the test day
    users = spark.createDataFrame(
        [("u1", BEFORE_VALID, *[0.25] * len(USER_DENSE)), ("u1", VALID_START, *[0.5] * len(USER_DENSE))],
        f"user_id string, dt date, {user_cols}",
    )
    item_cols = ", ".join(f"{c} double" for c in ITEM_DENSE)
    # the item table's own price is stale: samples use the impression's
    items = spark.createDataFrame(
        [("i1", VALID_START, "c7", 99.0, *[2.0] * len(ITEM_DENSE))],
        f"item_id string, dt date, category_id string, price double, {item_cols}",
    )
    return labelled, users, items


def test_samples_have_exactly_the_label_key_split_and_layout_columns(spark: SparkSession) -> None:
    labelled, users, items = samples_inputs(spark)

    out = samples(labelled, users=users, items=items, layout=LAYOUT, valid_start=VALID_START, test_start=TEST_START)

    keys = ("event_id", "dt", "ts", "user_id", "item_id", "category_id", "split", "click", "purchase")
    assert tuple(out.columns) == (*keys, *LAYOUT.sparse_columns, *LAYOUT.dense)
    types = dict(out.dtypes)
    assert {c: types[c] for c in ("click", "purchase", *LAYOUT.dense)} == {
        c: "float" for c in ("click", "purchase", *LAYOUT.dense)
    }


def test_samples_join_features_of_their_own_day_and_fill_missing_with_zero(spark: SparkSession) -> None:
    labelled, users, items = samples_inputs(spark)
    out = samples(labelled, users=users, items=items, layout=LAYOUT, valid_start=VALID_START, test_start=TEST_START)

    actual = out.select(S.EVENT_ID, S.CATEGORY_ID, S.SPLIT, *USER_DENSE, *ITEM_DENSE)

    def row(event: str, category: str | None, split: str, user: float, item: float, log_price: float) -> tuple:
        return (event, category, split, *[user] * len(USER_DENSE), *[item] * (len(ITEM_DENSE) - 1), log_price)

    expected = spark.createDataFrame(
        [
            row("s1", "c1", "valid", 0.5, 2.0, math.log(4.0)),
            row("s2", None, "train", 0.0, 0.0, 0.0),
            row("s3", "c2", "test", 0.0, 0.0, 0.0),
        ],
        ", ".join(["event_id string, category_id string, split string", *[f"{c} float" for c in DENSE]]),
    )
    assertDataFrameEqual(actual, expected)


def test_samples_hash_ids_into_their_buckets_and_a_missing_category_to_zero(spark: SparkSession) -> None:
    labelled, users, items = samples_inputs(spark)
    out = samples(labelled, users=users, items=items, layout=LAYOUT, valid_start=VALID_START, test_start=TEST_START)

    rows = {r[S.EVENT_ID]: r for r in out.collect()}

    for feature in LAYOUT.sparse:
        for event, r in rows.items():
            missing = r[feature.source] is None
            assert (r[feature.name] == 0) == missing, (event, feature.name)
            assert 0 <= r[feature.name] < feature.buckets, (event, feature.name)
    # same id, same index
    assert rows["s1"]["user_idx"] == rows["s3"]["user_idx"]
    assert rows["s1"]["item_idx"] == rows["s2"]["item_idx"]
