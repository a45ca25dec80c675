from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import SparkSession

from mtlrec.evaluation.ranking import purchases, ranking_metrics, threshold_metrics

LISTS_DDL = "strategy string, user_id string, rank int, item_id string"


def test_ranking_metrics_by_hand_for_two_buyers_and_a_user_without_a_list(spark: SparkSession) -> None:
    lists = spark.createDataFrame(
        [
            ("s", "u1", 1, "a"),  # hit
            ("s", "u1", 2, "b"),
            ("s", "u2", 1, "c"),
            ("s", "u2", 2, "d"),  # hit
            ("s", "u2", 3, "e"),  # rank 3 > k: ignored
            ("s", "u4", 1, "a"),  # bought nothing: not averaged, still covers items
        ],
        LISTS_DDL,
    )
    bought = spark.createDataFrame(
        [("u1", "a"), ("u1", "z"), ("u2", "d"), ("u3", "a")], "user_id string, item_id string"
    )

    actual = ranking_metrics(lists, bought, k=2, catalogue_size=10)["s"]

    # buyers u1 (2 items, hit at 1), u2 (1 item, hit at 2), u3 (no list)
    ndcg_u1 = 1.0 / (1.0 + 1.0 / math.log2(3))  # dcg 1 over the ideal of 2 hits
    ndcg_u2 = (1.0 / math.log2(3)) / 1.0
    assert actual["users"] == 3
    assert actual["precision"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert actual["recall"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert actual["hit_rate"] == pytest.approx(2 / 3)
    assert actual["ndcg"] == pytest.approx((ndcg_u1 + ndcg_u2 + 0) / 3)
    assert actual["coverage"] == pytest.approx(4 / 10)  # a, b, c, d


def test_threshold_metrics_count_true_and_false_positives(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(1.0, 0.9), (1.0, 0.3), (0.0, 0.6), (0.0, 0.1), (1.0, 0.5)], "click double, p_click double"
    )

    actual = threshold_metrics(df, label="click", prob="p_click", threshold=0.5)

    # predicted >= 0.5: 0.9 (tp), 0.6 (fp), 0.5 (tp); missed: 0.3 (fn)
    assert actual["precision"] == pytest.approx(2 / 3)
    assert actual["recall"] == pytest.approx(2 / 3)
    assert actual["f1"] == pytest.approx(2 / 3)


def test_purchases_are_the_distinct_pairs_bought_within_the_days_both_ends_included(spark: SparkSession) -> None:
    day = dt.date(2026, 11, 10)
    events = spark.createDataFrame(
        [
            ("u1", "a", "purchase", day - dt.timedelta(days=1)),  # the day before: out
            ("u1", "b", "purchase", day),
            ("u1", "b", "purchase", day + dt.timedelta(days=1)),  # the same pair again: once
            ("u2", "c", "click", day),  # not a purchase
            ("u2", "d", "purchase", day + dt.timedelta(days=1)),  # the last day: in
            ("u3", "e", "purchase", day + dt.timedelta(days=2)),  # after: out
        ],
        "user_id string, item_id string, event_type string, dt date",
    )

    bought = purchases(events, day, day + dt.timedelta(days=1))

    assert sorted(tuple(r) for r in bought.collect()) == [("u1", "b"), ("u2", "d")]
