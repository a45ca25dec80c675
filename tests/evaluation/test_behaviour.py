"""Behaviour transforms on a handful of events over three weeks (Mondays 11-02, 11-09, 11-16).

u1 buys in week 1 and comes back in week 2; u2 sees only impressions (on a Sunday,
still week 1); u5 appears once; u3 and u4 start in week 2, u4 clicking an item without
a category; u6 starts in week 3. Category c2 never has impressions.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec.evaluation.behaviour import category_trends, cohorts, funnel_by_category, funnel_daily

# the behaviour tables of a built funnel: many Spark queries per test
pytestmark = pytest.mark.slow


def d(day: int) -> dt.date:
    return dt.date(2026, 11, day)


@pytest.fixture(scope="module")
def events(spark: SparkSession) -> DataFrame:
    rows = [
        ("u5", "impression", "c1", d(3)),
        ("u1", "impression", "c1", d(6)),
        ("u1", "impression", "c1", d(6)),
        ("u1", "click", "c1", d(6)),
        ("u1", "purchase", "c1", d(6)),
        ("u2", "impression", "c1", d(8)),
        ("u3", "click", "c2", d(9)),
        ("u1", "impression", "c1", d(10)),
        ("u3", "cart", "c2", d(10)),
        ("u3", "purchase", "c2", d(10)),
        ("u4", "click", None, d(10)),
        ("u6", "click", "c2", d(17)),
    ]
    return spark.createDataFrame(rows, "user_id string, event_type string, category_id string, dt date")


FUNNEL = (
    "impressions long, clicks long, carts long, purchases long,"
    " ctr double, cart_rate double, cvr double, purchase_rate double"
)


def test_funnel_daily_counts_each_type_and_gives_null_rates_where_the_denominator_is_zero(
    spark: SparkSession, events: DataFrame
) -> None:
    actual = funnel_daily(events)

    expected = spark.createDataFrame(
        [
            (d(3), 1, 0, 0, 0, 0.0, None, None, 0.0),
            (d(6), 2, 1, 0, 1, 0.5, 0.0, 1.0, 0.5),
            (d(8), 1, 0, 0, 0, 0.0, None, None, 0.0),
            (d(9), 0, 1, 0, 0, None, 0.0, 0.0, None),  # clicks without impressions, as in Taobao
            (d(10), 1, 1, 1, 1, 1.0, 1.0, 1.0, 1.0),
            (d(17), 0, 1, 0, 0, None, 0.0, 0.0, None),
        ],
        f"dt date, {FUNNEL}",
    )
    assertDataFrameEqual(actual, expected)


def test_funnel_by_category_keeps_the_null_category_and_a_category_without_impressions(
    spark: SparkSession, events: DataFrame
) -> None:
    actual = funnel_by_category(events)

    expected = spark.createDataFrame(
        [
            ("c1", 5, 1, 0, 1, 0.2, 0.0, 1.0, 0.2),
            ("c2", 0, 2, 1, 1, None, 0.5, 0.5, None),
            (None, 0, 1, 0, 0, None, 0.0, 0.0, None),
        ],
        f"category_id string, {FUNNEL}",
    )
    assertDataFrameEqual(actual, expected)


def test_cohorts_are_monday_weeks_of_the_first_event_with_zero_rows_for_weeks_nobody_returned(
    spark: SparkSession, events: DataFrame
) -> None:
    actual = cohorts(events)

    expected = spark.createDataFrame(
        [
            # u1, u2 (Sunday 11-08 is still the week of Monday 11-02), u5; u1 bought in week 0
            (d(2), 0, 3, 3, 1, 1.0, 1 / 3),
            (d(2), 1, 3, 1, 0, 1 / 3, 0.0),  # u1 came back
            (d(2), 2, 3, 0, 0, 0.0, 0.0),
            (d(9), 0, 2, 2, 1, 1.0, 0.5),  # u3 (bought), u4
            (d(9), 1, 2, 0, 0, 0.0, 0.0),
            (d(16), 0, 1, 1, 0, 1.0, 0.0),  # u6
        ],
        "cohort_week date, week_offset int, cohort_size long, active_users long, buyers long,"
        " return_rate double, purchase_share double",
    )
    assertDataFrameEqual(actual, expected)


TRENDS = (
    "category_id string, window_days int, recent_clicks long, previous_clicks long, click_growth double,"
    " recent_purchases long, previous_purchases long, purchase_growth double"
)


def test_category_trends_compare_the_last_n_days_with_the_n_before_by_smoothed_growth(
    spark: SparkSession, events: DataFrame
) -> None:
    actual = category_trends(events, days=7)

    # the log spans 11-03..11-17 (15 days): recent 11-11..11-17, previous 11-04..11-10
    expected = spark.createDataFrame(
        [
            ("c1", 7, 0, 1, 0.5, 0, 1, 0.5),
            ("c2", 7, 1, 1, 1.0, 0, 1, 0.5),
            (None, 7, 0, 1, 0.5, 0, 0, 1.0),
        ],
        TRENDS,
    )
    assertDataFrameEqual(actual, expected)


def test_category_trends_of_a_log_shorter_than_two_windows_compare_its_halves(
    spark: SparkSession, events: DataFrame
) -> None:
    actual = category_trends(events.where(F.col("dt") <= F.lit(d(8))), days=7)

    # 11-03..11-08 is 6 days: recent 11-06..11-08 against 11-03..11-05 (an impression only)
    expected = spark.createDataFrame([("c1", 3, 1, 0, 2.0, 1, 0, 2.0)], TRENDS)
    assertDataFrameEqual(actual, expected)
