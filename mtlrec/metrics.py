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


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Exact ROC AUC of `scores` for binary `labels`."""
    labels = np.asarray(labels, dtype=np.float64)
    levels, index = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    pos = np.bincount(index, weights=labels, minlength=len(levels))
    neg = np.bincount(index, weights=1.0 - labels, minlength=len(levels))
    return auc_from_counts(pos, neg)


def logloss(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities `probs` for binary `labels`."""
    p = np.clip(np.asarray(probs, dtype=np.float64), _EPS, 1 - _EPS)
    y = np.asarray(labels, dtype=np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def task_metrics(labels: np.ndarray, probs: np.ndarray, tasks: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """AUC, logloss and calibration (mean prediction / mean label) per task column."""
    out = {}
    for i, task in enumerate(tasks):
        y, p = labels[:, i], probs[:, i]
        base = float(y.mean()) if len(y) else float("nan")
        out[task] = {
            "auc": auc(y, p),
            "logloss": logloss(y, p),
            "calibration": float(p.mean()) / base if base > 0 else float("nan"),
        }
    return out
