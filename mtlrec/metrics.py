"""Ranking and calibration metrics shared by training, evaluation and benchmarks.

AUC is computed one way: from positive and negative counts per score value (or per
score bin), in ascending score order. Exact AUC groups by distinct score; Spark-side
evaluation groups by fine bins, so only a fixed-size table reaches the driver.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-7


def auc_from_counts(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC from per-score-level positive and negative counts, levels ascending.

    Ties within a level count one half (the Mann-Whitney convention). NaN when one
    class is absent.
    """
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    negatives_below = np.cumsum(neg) - neg
    return float((pos * (negatives_below + 0.5 * neg)).sum() / (n_pos * n_neg))


def _row_weights(labels: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    return np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)


def auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Exact ROC AUC of `scores` for binary `labels`, each row counted `weights` times."""
    labels = np.asarray(labels, dtype=np.float64)
    w = _row_weights(labels, weights)
    levels, index = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    pos = np.bincount(index, weights=labels * w, minlength=len(levels))
    neg = np.bincount(index, weights=(1.0 - labels) * w, minlength=len(levels))
    return auc_from_counts(pos, neg)


def gauc(labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Group AUC: each group's (user's) AUC, averaged with the group's rows as weights.

    Groups with only positives or only negatives have no AUC and are left out (Zhou et
    al. 2018, DIN). Ties within a group count one half, as in `auc`.
    """
    y = np.asarray(labels, dtype=np.float64)
    w = _row_weights(y, weights)
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(groups)
    order = np.lexsort((s, g))
    y, w, s, g = y[order], w[order], s[order], g[order]
    # a level is a run of equal (group, score): its rows tie
    starts = np.r_[True, (g[1:] != g[:-1]) | (s[1:] != s[:-1])]
    level = np.cumsum(starts) - 1
    pos = np.bincount(level, weights=y * w)
    neg = np.bincount(level, weights=(1.0 - y) * w)
    level_group = g[starts]
    group_starts = np.r_[True, level_group[1:] != level_group[:-1]]
    group = np.cumsum(group_starts) - 1  # group number of each level
    neg_before = np.cumsum(neg) - neg  # negatives in earlier levels, across groups
    neg_below = neg_before - neg_before[group_starts][group]  # ... within the level's own group
    wins = np.bincount(group, weights=pos * (neg_below + 0.5 * neg))
    n_pos, n_neg = np.bincount(group, weights=pos), np.bincount(group, weights=neg)
    has_both = (n_pos > 0) & (n_neg > 0)
    if not has_both.any():
        return float("nan")
    per_group = wins[has_both] / (n_pos[has_both] * n_neg[has_both])
    size = n_pos[has_both] + n_neg[has_both]
    return float((per_group * size).sum() / size.sum())


def logloss(labels: np.ndarray, probs: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean binary cross-entropy of probabilities `probs` for binary `labels` (weighted by rows)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), _EPS, 1 - _EPS)
    y = np.asarray(labels, dtype=np.float64)
    w = _row_weights(y, weights)
    return float(-(w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum() / w.sum())


def task_metrics(
    labels: np.ndarray,
    probs: np.ndarray,
    tasks: tuple[str, ...],
    *,
    weights: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """AUC, logloss and calibration (mean prediction / mean label) per task column.

    With `groups` (a user key per row), also GAUC. `weights` counts each row that many
    times, as the loss does.
    """
    w = _row_weights(labels, weights)
    out = {}
    for i, task in enumerate(tasks):
        y, p = labels[:, i], probs[:, i]
        base = float((w * y).sum() / w.sum()) if len(y) else float("nan")
        mean_p = float((w * p).sum() / w.sum()) if len(y) else float("nan")
        out[task] = {
            "auc": auc(y, p, w),
            "logloss": logloss(y, p, w) if len(y) else float("nan"),
            "calibration": mean_p / base if base > 0 else float("nan"),
        }
        if groups is not None:
            out[task]["gauc"] = gauc(y, p, groups, w)
    return out
