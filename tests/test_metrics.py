from __future__ import annotations

import math

import numpy as np
import pytest

from mtlrec.metrics import auc, auc_from_counts, gauc, logloss


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
