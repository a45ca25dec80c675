from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.serving.strategy import ranked, strategy_score, with_funnel

SCORED_DDL = (
    "user_id string, item_id string, category_id string, price double, popularity double,"
    " p_click double, p_purchase double"
)


def scored_df(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return with_funnel(spark.createDataFrame(rows, SCORED_DDL), ("click", "purchase"))


def lists(df: DataFrame) -> DataFrame:
    return df.select(S.STRATEGY, S.USER_ID, S.RANK, S.ITEM_ID)


def test_each_strategy_ranks_k_items_per_user_best_first_ties_by_item_id(spark: SparkSession) -> None:
    scored = scored_df(
        spark,
        [
            ("u1", "i1", "c1", 10.0, 0.0, 0.5, 0.1),  # ctcvr 0.1, click 0.5
            ("u1", "i2", "c2", 1.0, 0.0, 0.8, 0.05),  # ctcvr 0.05, click 0.8, tied with i3 on ctcvr
            ("u1", "i3", "c3", 1.0, 0.0, 0.25, 0.05),  # ctcvr 0.05, click 0.25
            ("u1", "i4", "c4", 1.0, 0.0, 0.9, 0.01),  # ctcvr 0.01, click 0.9
            ("u2", "i4", "c4", 1.0, 0.0, 0.5, 0.2),  # u2 has fewer candidates than k
        ],
    )

    actual = ranked(scored, strategies={"ctcvr": {"ctcvr": 1.0}, "click": {"click": 1.0}}, k=3)

    expected = spark.createDataFrame(
        [
            ("ctcvr", "u1", 1, "i1"),
            ("ctcvr", "u1", 2, "i2"),
            ("ctcvr", "u1", 3, "i3"),
            ("ctcvr", "u2", 1, "i4"),
            ("click", "u1", 1, "i4"),
            ("click", "u1", 2, "i2"),
            ("click", "u1", 3, "i1"),
            ("click", "u2", 1, "i4"),
        ],
        "strategy string, user_id string, rank int, item_id string",
    )
    assertDataFrameEqual(lists(actual), expected)


def test_category_cap_passes_over_items_of_a_full_category(spark: SparkSession) -> None:
    scored = scored_df(
        spark,
        [
            ("u1", "a1", "A", 1.0, 0.0, 0.9, 0.1),
            ("u1", "a2", "A", 1.0, 0.0, 0.8, 0.1),
            ("u1", "a3", "A", 1.0, 0.0, 0.7, 0.1),  # third of A: passed over at cap 2
            ("u1", "b1", "B", 1.0, 0.0, 0.6, 0.1),
            ("u1", "n1", None, 1.0, 0.0, 0.5, 0.1),  # unknown category counts as one
        ],
    )

    actual = ranked(scored, strategies={"click": {"click": 1.0}}, k=4, category_cap=2)

    expected = spark.createDataFrame(
        [("click", "u1", 1, "a1"), ("click", "u1", 2, "a2"), ("click", "u1", 3, "b1"), ("click", "u1", 4, "n1")],
        "strategy string, user_id string, rank int, item_id string",
    )
    assertDataFrameEqual(lists(actual), expected)


def test_strategy_score_multiplies_terms_raised_to_their_exponents(spark: SparkSession) -> None:
    scored = scored_df(
        spark,
        [
            ("u1", "i1", "c", 4.0, 9.0, 0.25, 0.05),
            ("u1", "i2", "c", None, 0.0, 0.5, 0.0),  # no price, no purchase: floored at 1e-12
        ],
    )

    actual = scored.select(
        S.ITEM_ID,
        strategy_score({"ctcvr": 1.0, "price": 0.5}).alias("gmv"),
        strategy_score({"click": 2.0, "popularity": 1.0}).alias("clicky"),
        strategy_score({"cvr": 1.0}).alias("cvr"),
    )

    expected = spark.createDataFrame(
        [
            # 0.05 * 4^0.5; 0.25^2 * (9 + 1); 0.05 / 0.25
            ("i1", 0.1, 0.625, 0.2),
            # 1e-12 * 1e-12^0.5; 0.5^2 * (0 + 1); 0 / 0.5 floored
            ("i2", 1e-18, 0.25, 1e-12),
        ],
        "item_id string, gmv double, clicky double, cvr double",
    )
    assertDataFrameEqual(actual, expected, rtol=1e-6, atol=0.0)


def test_cvr_is_capped_at_one_and_ctcvr_is_the_purchase_probability(spark: SparkSession) -> None:
    scored = scored_df(spark, [("u1", "i1", "c", 1.0, 0.0, 0.1, 0.2)])  # an inconsistent model output

    row = scored.select("p_ctcvr", "p_cvr").first()

    assert row is not None and (row["p_ctcvr"], row["p_cvr"]) == (0.2, 1.0)


def test_a_click_only_model_gets_no_funnel_columns(spark: SparkSession) -> None:
    scored = spark.createDataFrame([("u1", "i1", 0.3)], "user_id string, item_id string, p_click double")

    assert with_funnel(scored, ("click",)).columns == scored.columns
    assert scored.select(F.col("p_click")).first() == (0.3,)


def test_exposure_weights_the_purchase_probability_by_the_items_impressions(spark: SparkSession) -> None:
    scored = with_funnel(
        spark.createDataFrame(
            [("u1", "shown", 0.1, 0.01, 99.0), ("u1", "rare", 0.1, 0.05, 0.0)],
            "user_id string, item_id string, p_click double, p_purchase double, exposure double",
        ),
        ("click", "purchase"),
    )

    actual = scored.select(S.ITEM_ID, strategy_score({"ctcvr": 1.0, "exposure": 1.0}).alias("expected"))

    # 0.01 * (99 + 1) beats 0.05 * (0 + 1): a rarely shown item is rarely bought
    expected = spark.createDataFrame([("shown", 1.0), ("rare", 0.05)], "item_id string, expected double")
    assertDataFrameEqual(actual, expected, rtol=1e-6, atol=0.0)
