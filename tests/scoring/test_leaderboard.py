from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from mtlrec.scoring.leaderboard import expected_purchases, trending

BOARD_DDL = "board string, rank int, item_id string, category_id string, value double"


def test_expected_purchases_sum_p_ctcvr_over_users_overall_and_per_category(spark: SparkSession) -> None:
    scored = spark.createDataFrame(
        [
            ("u1", "a1", "A", 0.1),
            ("u2", "a1", "A", 0.3),  # a1: 0.4
            ("u1", "a2", "A", 0.2),  # a2: 0.2
            ("u1", "b1", "B", 0.25),
            ("u2", "b1", "B", 0.25),  # b1: 0.5
        ],
        "user_id string, item_id string, category_id string, p_ctcvr double",
    )

    actual = expected_purchases(scored, n=2)

    expected = [
        ("expected_purchases", 1, "b1", "B", 0.5),
        ("expected_purchases", 2, "a1", "A", 0.4),
        ("category_expected_purchases", 1, "a1", "A", 0.4),
        ("category_expected_purchases", 2, "a2", "A", 0.2),
        ("category_expected_purchases", 1, "b1", "B", 0.5),
    ]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, BOARD_DDL), rtol=1e-9, atol=0.0)


def test_trending_ranks_click_growth_of_the_last_days_against_the_days_before(spark: SparkSession) -> None:
    d = dt.date
    daily = spark.createDataFrame(
        [
            ("x", "A", 1, d(2026, 11, 4)),  # previous period (Nov 4-5)
            ("x", "A", 9, d(2026, 11, 6)),  # recent (Nov 6-7): (9 + 1) / (1 + 1) = 5
            ("y", "B", 3, d(2026, 11, 5)),
            ("y", "B", 3, d(2026, 11, 7)),  # (3 + 1) / (3 + 1) = 1
            ("z", "B", 1, d(2026, 11, 7)),  # (1 + 1) / (0 + 1) = 2
            ("z", "B", 50, d(2026, 11, 8)),  # the scoring day itself: not yet known
            ("w", "C", 7, d(2026, 11, 3)),  # before both periods; no recent clicks: not trending
        ],
        "item_id string, category_id string, clicks int, dt date",
    )

    actual = trending(daily, day=d(2026, 11, 8), days=2, n=10)

    expected = [("trending", 1, "x", "A", 5.0), ("trending", 2, "z", "B", 2.0), ("trending", 3, "y", "B", 1.0)]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, BOARD_DDL))
