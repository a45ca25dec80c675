from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.scoring.transforms import popular_items, strategy_score, top_k

DAY = dt.date(2026, 11, 8)
TASKS = ("click", "purchase")
RECS_DDL = (
    "dt date, user_id string, rank int, item_id string, score double, p_click double, p_purchase double, run_id string"
)


def scored_df(spark: SparkSession, rows: list[tuple[str, str, float | None, float | None]]) -> DataFrame:
    return spark.createDataFrame(rows, "user_id string, item_id string, p_click double, p_purchase double")


def test_top_k_ranks_k_items_per_user_by_product_of_probabilities(spark: SparkSession) -> None:
    scored = scored_df(
        spark,
        [
            ("u1", "i1", 0.5, 0.5),  # 0.25
            ("u1", "i2", 0.8, 0.25),  # 0.2, tied with i3: the smaller id first
            ("u1", "i3", 0.25, 0.8),  # 0.2
            ("u1", "i4", 0.9, 0.125),  # 0.1125, cut at k = 3
            ("u2", "i4", 0.5, 0.5),  # u2 has fewer candidates than k
            ("u2", "i9", 0.75, 0.25),  # 0.1875
        ],
    )

    actual = top_k(scored, strategy={"click": 1.0, "purchase": 1.0}, k=3, tasks=TASKS, run_id="r1", day=DAY)

    expected = spark.createDataFrame(
        [
            (DAY, "u1", 1, "i1", 0.25, 0.5, 0.5, "r1"),
            (DAY, "u1", 2, "i2", 0.2, 0.8, 0.25, "r1"),
            (DAY, "u1", 3, "i3", 0.2, 0.25, 0.8, "r1"),
            (DAY, "u2", 1, "i4", 0.25, 0.5, 0.5, "r1"),
            (DAY, "u2", 2, "i9", 0.1875, 0.75, 0.25, "r1"),
        ],
        RECS_DDL,
    )
    assertDataFrameEqual(actual, expected, rtol=1e-6, atol=0.0)


def test_strategy_with_zero_exponent_ranks_by_the_other_task_alone(spark: SparkSession) -> None:
    scored = scored_df(
        spark,
        [
            ("u1", "i1", 0.3, 0.9),
            ("u1", "i2", 0.6, 0.1),
            ("u1", "i3", 0.5, None),  # no purchase estimate: irrelevant at exponent 0
            ("u1", "i4", 0.1, 0.99),
        ],
    )

    actual = top_k(scored, strategy={"click": 1.0, "purchase": 0.0}, k=3, tasks=TASKS, run_id="r2", day=DAY)

    expected = spark.createDataFrame(
        [
            (DAY, "u1", 1, "i2", 0.6, 0.6, 0.1, "r2"),
            (DAY, "u1", 2, "i3", 0.5, 0.5, None, "r2"),
            (DAY, "u1", 3, "i1", 0.3, 0.3, 0.9, "r2"),
        ],
        RECS_DDL,
    )
    assertDataFrameEqual(actual, expected, rtol=1e-6, atol=0.0)


def test_strategy_score_raises_each_probability_to_its_exponent(spark: SparkSession) -> None:
    scored = scored_df(spark, [("u1", "i1", 0.25, 0.5), ("u1", "i2", 1.0, 0.0), ("u1", "i3", 0.5, 1.0)])

    actual = scored.select(S.ITEM_ID, strategy_score({"click": 2.0, "purchase": 0.5}).alias(S.SCORE))

    # 0.25^2 * 0.5^0.5; p = 0 is floored at 1e-12 so the log stays finite
    expected = spark.createDataFrame(
        [("i1", 0.0625 * 0.5**0.5), ("i2", 1e-6), ("i3", 0.25)],
        "item_id string, score double",
    )
    assertDataFrameEqual(actual, expected, rtol=1e-6, atol=0.0)


def test_popular_items_are_the_n_most_clicked_ties_broken_by_item_id(spark: SparkSession) -> None:
    items = spark.createDataFrame(
        [
            ("i5", 2.0, "c1"),
            ("i3", 3.5, "c2"),
            ("i1", 2.0, None),
            ("i2", 1.0, "c1"),
            ("i4", None, "c3"),
        ],
        "item_id string, item_clicks_30d double, category_id string",
    )

    actual = popular_items(items, n=3)

    expected = spark.createDataFrame(
        [("i3", 3.5, "c2"), ("i1", 2.0, None), ("i5", 2.0, "c1")],
        "item_id string, item_clicks_30d double, category_id string",
    )
    assertDataFrameEqual(actual, expected, checkRowOrder=True)


def test_popular_items_returns_every_item_when_fewer_than_n(spark: SparkSession) -> None:
    items = spark.createDataFrame([("i2", 0.0), ("i1", None)], "item_id string, item_clicks_30d double")

    actual = popular_items(items, n=5).select(F.col(S.ITEM_ID))

    assertDataFrameEqual(actual, spark.createDataFrame([("i2",), ("i1",)], "item_id string"), checkRowOrder=True)
