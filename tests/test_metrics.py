from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual
from sklearn.metrics import log_loss, roc_auc_score

from mtlrec.metrics import (
    ScoreHistogram,
    auc,
    auc_from_counts,
    calibration_curve,
    gauc,
    gauc_column,
    logloss,
    logloss_column,
    score_bins,
    task_metrics,
    user_auc,
)


def pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney by definition: over every (positive, negative) pair, ties count 1/2."""
    pos = scores[labels == 1]
    neg = scores[labels == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_auc_equals_pairwise_count_with_ties() -> None:
    rng = np.random.default_rng(11)
    scores = rng.integers(0, 6, size=60) / 5.0  # six levels: many ties
    labels = rng.integers(0, 2, size=60)
    assert 0 < labels.sum() < len(labels)

    assert auc(labels, scores) == pytest.approx(pairwise_auc(labels, scores), abs=1e-12)


def test_auc_does_not_depend_on_row_order() -> None:
    labels = np.array([1, 0, 1, 0, 0, 1])
    scores = np.array([0.3, 0.3, 0.9, 0.1, 0.5, 0.2])
    order = np.array([5, 2, 0, 4, 1, 3])

    assert auc(labels[order], scores[order]) == pytest.approx(auc(labels, scores), abs=1e-12)


def test_perfect_ranking_gives_one_and_reversed_ranking_gives_zero() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])

    assert auc(labels, scores) == 1.0
    assert auc(labels, -scores) == 0.0


def test_all_scores_tied_gives_one_half() -> None:
    assert auc(np.array([1, 0, 0, 1]), np.full(4, 0.3)) == 0.5


@pytest.mark.parametrize("labels", [[1, 1, 1], [0, 0, 0], []])
def test_auc_is_nan_when_a_class_is_absent(labels: list[int]) -> None:
    scores = np.linspace(0.1, 0.9, len(labels))

    assert math.isnan(auc(np.array(labels), scores))


def test_auc_from_counts_equals_auc_of_rows_scored_at_the_bin_levels() -> None:
    pos = np.array([0, 3, 1, 0, 2])
    neg = np.array([4, 1, 0, 0, 2])
    levels = np.array([0.05, 0.25, 0.45, 0.65, 0.85])
    scores = np.concatenate([np.repeat(levels, pos), np.repeat(levels, neg)])
    labels = np.concatenate([np.ones(pos.sum()), np.zeros(neg.sum())])

    assert auc_from_counts(pos, neg) == pytest.approx(auc(labels, scores), abs=1e-12)
    assert auc_from_counts(pos, neg) == pytest.approx(pairwise_auc(labels, scores), abs=1e-12)


def test_auc_from_counts_is_nan_without_negatives() -> None:
    assert math.isnan(auc_from_counts(np.array([1, 2]), np.array([0, 0])))


def test_logloss_matches_hand_computed_value() -> None:
    labels = np.array([1, 0, 1])
    probs = np.array([0.9, 0.2, 0.5])
    # -(ln 0.9 + ln 0.8 + ln 0.5) / 3
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.5)) / 3

    assert logloss(labels, probs) == pytest.approx(expected, rel=1e-12)


def test_logloss_clips_certain_wrong_predictions_to_a_finite_loss() -> None:
    labels = np.array([0, 1, 1])
    probs = np.array([1.0, 0.0, 1.0])
    # the two wrong rows cost -ln(1e-7) each, the right one -ln(1 - 1e-7)
    expected = (2 * -math.log(1e-7) - math.log(1 - 1e-7)) / 3

    assert logloss(labels, probs) == pytest.approx(expected, rel=1e-9)


def test_gauc_is_each_users_pairwise_auc_weighted_by_the_users_rows() -> None:
    rng = np.random.default_rng(5)
    users = rng.integers(0, 8, size=120)
    scores = rng.integers(0, 4, size=120) / 3.0  # ties within users
    labels = rng.integers(0, 2, size=120)
    labels[users == 7] = 1  # a user with positives only has no AUC and is left out

    per_user = [(pairwise_auc(labels[users == u], scores[users == u]), (users == u).sum()) for u in range(7)]
    expected = sum(a * n for a, n in per_user) / sum(n for _, n in per_user)

    assert gauc(labels, scores, users) == pytest.approx(expected, abs=1e-12)


def test_a_row_weight_of_two_counts_like_the_row_twice() -> None:
    labels = np.array([1, 0, 1, 0, 0])
    probs = np.array([0.8, 0.3, 0.4, 0.6, 0.1])
    users = np.array([1, 1, 2, 2, 2])
    weights = np.array([2.0, 1.0, 1.0, 1.0, 1.0])
    twice = np.r_[0, np.arange(5)]

    assert auc(labels, probs, weights) == pytest.approx(auc(labels[twice], probs[twice]), abs=1e-12)
    assert logloss(labels, probs, weights) == pytest.approx(logloss(labels[twice], probs[twice]), abs=1e-12)
    assert gauc(labels, probs, users, weights) == pytest.approx(
        gauc(labels[twice], probs[twice], users[twice]), abs=1e-12
    )


# --- checked against scikit-learn: the reference a reader trusts ---


def _sample(seed: int, rows: int = 400, levels: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, size=rows) / levels  # ties on purpose
    labels = (rng.random(rows) < 0.2 + 0.6 * scores).astype(np.float64)
    users = rng.integers(0, 12, size=rows)
    return labels, scores, users


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_driver_auc_logloss_and_weighted_auc_equal_scikit_learn(seed: int) -> None:
    labels, scores, _ = _sample(seed)
    weights = np.random.default_rng(seed).uniform(0.5, 3.0, size=len(labels))
    probs = np.clip(scores, 0.01, 0.99)

    assert auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert auc(labels, scores, weights) == pytest.approx(
        roc_auc_score(labels, scores, sample_weight=weights), abs=1e-12
    )
    assert logloss(labels, probs, weights) == pytest.approx(log_loss(labels, probs, sample_weight=weights), rel=1e-9)


def sklearn_gauc(labels: np.ndarray, scores: np.ndarray, users: np.ndarray) -> float:
    """Per-user scikit-learn AUC, weighted by the user's rows; one-class users left out."""
    total = weight = 0.0
    for user in np.unique(users):
        sel = users == user
        if 0 < labels[sel].sum() < sel.sum():
            total += roc_auc_score(labels[sel], scores[sel]) * sel.sum()
            weight += sel.sum()
    return total / weight


def test_driver_gauc_equals_per_user_scikit_learn_auc_weighted_by_rows() -> None:
    labels, scores, users = _sample(3)

    assert gauc(labels, scores, users) == pytest.approx(sklearn_gauc(labels, scores, users), abs=1e-12)
    per_task = task_metrics(labels[:, None], scores[:, None], ("click",), groups=users)["click"]
    assert per_task["gauc"] == pytest.approx(sklearn_gauc(labels, scores, users), abs=1e-12)


def test_spark_histogram_auc_user_gauc_and_logloss_equal_scikit_learn(spark: SparkSession) -> None:
    labels, scores, users = _sample(4, levels=50)
    probs = np.clip(scores, 0.01, 0.99)
    rows = [(str(u), float(y), float(s), float(p)) for u, y, s, p in zip(users, labels, scores, probs, strict=True)]
    df = spark.createDataFrame(rows, "user_id string, click double, score double, p double")

    # 100 bins of 0.01: each of the 50 score levels falls alone in its bin, so the histogram is exact
    counts = score_bins(df, label="click", score="score", bins=100).orderBy("bin").collect()
    hist = ScoreHistogram(
        bins=100,
        index=np.array([r["bin"] for r in counts], dtype=float),
        pos=np.array([r["pos"] for r in counts], dtype=float),
        neg=np.array([r["neg"] for r in counts], dtype=float),
    )
    per_user = user_auc(df, user="user_id", label="click", score="score")
    aggregates = df.agg(logloss_column("click", "p").alias("loss")).first()
    gauc_row = per_user.agg(gauc_column().alias("gauc")).first()

    assert hist.auc() == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert gauc_row is not None and gauc_row["gauc"] == pytest.approx(sklearn_gauc(labels, scores, users), abs=1e-12)
    assert aggregates is not None and aggregates["loss"] == pytest.approx(log_loss(labels, probs), rel=1e-9)


def test_calibration_curve_groups_equal_rows_in_score_order_with_their_mean_prediction_and_rate() -> None:
    # five bins of 4 rows at scores 0.05, 0.25, 0.45, 0.65, 0.85 with 0..4 positives
    hist = ScoreHistogram(
        bins=10,
        index=np.array([0.0, 2.0, 4.0, 6.0, 8.0]),
        pos=np.array([0.0, 1.0, 2.0, 3.0, 4.0]),
        neg=np.array([4.0, 3.0, 2.0, 1.0, 0.0]),
    )

    five = calibration_curve(hist, groups=5)
    two = calibration_curve(hist, groups=2)

    assert five == {
        "predicted": pytest.approx([0.05, 0.25, 0.45, 0.65, 0.85]),
        "observed": pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0]),
        "rows": [4.0] * 5,
    }
    # halves by rows: the bins whose middle row is in the first 10 rows (12 rows), then the rest (8)
    assert two == {
        "predicted": pytest.approx([(0.05 + 0.25 + 0.45) / 3, (0.65 + 0.85) / 2]),
        "observed": pytest.approx([3 / 12, 7 / 8]),
        "rows": [12.0, 8.0],
    }


# --- the Spark aggregates on hand-checked rows ---


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

    binned = auc_from_counts(np.array([r["pos"] for r in rows]), np.array([r["neg"] for r in rows]))
    assert binned == pytest.approx(auc(labels, scores), abs=1e-12)


def test_logloss_aggregate_equals_the_numpy_logloss_including_clipped_rows(spark: SparkSession) -> None:
    labels = [1.0, 0.0, 1.0, 0.0, 1.0]
    probs = [0.9, 0.2, 0.5, 1.0, 0.0]  # the last two are certain and wrong: clipped
    df = spark.createDataFrame(list(zip(labels, probs, strict=False)), "purchase double, p_purchase double")

    row = df.agg(logloss_column("purchase", "p_purchase").alias("loss")).first()

    assert row is not None
    assert row["loss"] == pytest.approx(logloss(np.array(labels), np.array(probs)), rel=1e-9)


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
    expected = spark.createDataFrame([("u1", 0.875, 4), ("u2", 0.0, 2)], "user_id string, auc double, rows long")
    assertDataFrameEqual(actual, expected)
    weighted = actual.agg(gauc_column().alias("g")).first()
    assert weighted is not None
    assert weighted["g"] == pytest.approx((0.875 * 4 + 0.0 * 2) / 6)
