from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from mtlrec import metrics
from mtlrec.evaluation.transforms import gauc, logloss, score_bins, user_auc, with_oracle


def test_score_bins_count_positives_and_negatives_per_bin_with_one_in_the_last_bin(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(1.0, 0.0), (0.0, 0.24), (0.0, 0.25), (1.0, 0.25), (1.0, 0.99), (0.0, 1.0)],
        "click double, p_click double",
    )

    actual = score_bins(df, label="click", score="p_click", bins=4)

    # bins of width 0.25; an empty bin (2) has no row
    expected = spark.createDataFrame([(0, 1, 1), (1, 1, 1), (3, 1, 1)], "bin int, pos long, neg long")
    assertDataFrameEqual(actual, expected)


def test_binned_counts_give_the_exact_auc_when_each_bin_holds_one_score_level(spark: SparkSession) -> None:
    labels = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    scores = np.array([0.05, 0.05, 0.35, 0.95, 0.65, 0.35])
    df = spark.createDataFrame(list(zip(labels.tolist(), scores.tolist(), strict=False)), "y double, s double")

    rows = score_bins(df, label="y", score="s", bins=10).orderBy("bin").collect()

    binned = metrics.auc_from_counts(np.array([r["pos"] for r in rows]), np.array([r["neg"] for r in rows]))
    assert binned == pytest.approx(metrics.auc(labels, scores), abs=1e-12)


def test_logloss_aggregate_equals_the_numpy_logloss_including_clipped_rows(spark: SparkSession) -> None:
    labels = [1.0, 0.0, 1.0, 0.0, 1.0]
    probs = [0.9, 0.2, 0.5, 1.0, 0.0]  # the last two are certain and wrong: clipped
    df = spark.createDataFrame(list(zip(labels, probs, strict=False)), "purchase double, p_purchase double")

    row = df.agg(logloss("purchase", "p_purchase").alias("loss")).first()

    assert row is not None
    assert row["loss"] == pytest.approx(metrics.logloss(np.array(labels), np.array(probs)), rel=1e-9)


def test_with_oracle_scores_purchase_by_p_click_times_p_purchase_given_click(spark: SparkSession) -> None:
    samples = spark.createDataFrame(
        [("e1", 1.0, 0.0, "u1"), ("e2", 0.0, 0.0, "u2"), ("e3", 1.0, 1.0, "u1"), ("e4", 0.0, 0.0, "u3")],
        "event_id string, click float, purchase float, user_id string",
    )
    truth = spark.createDataFrame(
        [("e1", 0.5, 0.2), ("e2", 0.1, None), ("e3", 0.8, 0.5), ("e9", 0.9, 0.9)],
        "event_id string, p_click double, p_purchase_given_click double",
    )

    actual = with_oracle(samples, truth)

    # e4 has no truth and e9 no sample: neither is scored
    expected = spark.createDataFrame(
        [("e1", 1.0, 0.0, 0.5, 0.1), ("e2", 0.0, 0.0, 0.1, None), ("e3", 1.0, 1.0, 0.8, 0.4)],
        "event_id string, click float, purchase float, oracle_click double, oracle_purchase double",
    )
    assertDataFrameEqual(actual, expected)


def test_user_auc_matches_the_pairwise_count_per_user_and_skips_one_class_users(spark: SparkSession) -> None:
    rows = [
        # u1: positives at 0.9 and 0.5 (tied with a negative), negatives at 0.5 and 0.1
        ("u1", 1.0, 0.9), ("u1", 1.0, 0.5), ("u1", 0.0, 0.5), ("u1", 0.0, 0.1),
        # u2: the positive ranks below the negative
        ("u2", 1.0, 0.2), ("u2", 0.0, 0.3),
        # u3: only negatives, no AUC
        ("u3", 0.0, 0.4), ("u3", 0.0, 0.6),
    ]  # fmt: skip
    df = spark.createDataFrame(rows, "user_id string, click double, p_click double")

    actual = user_auc(df, user="user_id", label="click", score="p_click")

    # u1 pairs (pos, neg): (0.9,0.5)=1 (0.9,0.1)=1 (0.5,0.5)=0.5 (0.5,0.1)=1 -> 3.5 / 4
    expected = spark.createDataFrame([("u1", 0.875, 4), ("u2", 0.0, 2)], "user_id string, auc double, impressions long")
    assertDataFrameEqual(actual, expected)
    weighted = actual.agg(gauc().alias("g")).first()
    assert weighted is not None
    assert weighted["g"] == pytest.approx((0.875 * 4 + 0.0 * 2) / 6)
