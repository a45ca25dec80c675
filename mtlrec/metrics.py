"""AUC, GAUC, logloss and calibration: the one metrics module, on the driver and in Spark.

AUC is computed one way everywhere: from positive and negative counts per score
level, in ascending score order, each positive winning over the negatives of lower
levels and half of those of its own level (Mann-Whitney, ties count one half).

- On the driver (numpy): `auc_from_counts`, and `auc`, `gauc`, `logloss`,
  `task_metrics` on arrays (training's validation, benchmarks).
- In Spark: `level_counts` counts per (group, level), `grouped_auc` applies the same
  formula per group with a window sum, so per-user AUC (GAUC) and per-feature AUC
  (the leakage guard) never collect rows; `score_bins` makes the fixed-size histogram
  (`ScoreHistogram`) from which the driver takes AUC, mean prediction and the
  calibration curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

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


@dataclass(frozen=True)
class ScoreHistogram:
    """Positives and negatives per equal-width score bin: all the driver needs of a split."""

    bins: int
    index: np.ndarray  # [K] bin numbers present, ascending
    pos: np.ndarray  # [K] positives per bin
    neg: np.ndarray  # [K] negatives per bin

    @property
    def centers(self) -> np.ndarray:
        return (self.index + 0.5) / self.bins

    @property
    def rows(self) -> int:
        return int(self.pos.sum() + self.neg.sum())

    def auc(self) -> float:
        return auc_from_counts(self.pos, self.neg)

    def mean_prediction(self) -> float:
        total = self.pos + self.neg
        return float((self.centers * total).sum() / max(total.sum(), 1))

    def base_rate(self) -> float:
        return float(self.pos.sum() / max(self.rows, 1))


def calibration_curve(hist: ScoreHistogram, groups: int = 15) -> dict[str, list[float]]:
    """Mean prediction against observed rate in `groups` groups of about equal rows.

    Groups follow the score order, so a well-calibrated model lies on the diagonal.
    """
    total = hist.pos + hist.neg
    cumulative = np.cumsum(total)
    edges = np.linspace(0, cumulative[-1] if len(cumulative) else 0, groups + 1)[1:-1]
    group = np.searchsorted(edges, cumulative - total / 2.0)  # [K] group of each bin
    predicted, observed, rows = [], [], []
    for g in np.unique(group):
        sel = group == g
        n = total[sel].sum()
        predicted.append(float((hist.centers[sel] * total[sel]).sum() / n))
        observed.append(float(hist.pos[sel].sum() / n))
        rows.append(float(n))
    return {"predicted": predicted, "observed": observed, "rows": rows}


# --- Spark: the same formulas as aggregates; only fixed-size tables reach the driver ---

LEVEL, POS, NEG, AUC, ROWS = "level", "pos", "neg", "auc", "rows"


def score_bins(df: DataFrame, *, label: str, score: str, bins: int) -> DataFrame:
    """Positives and negatives per score bin (`bin` ascending 0..bins-1), scores in [0, 1]."""
    index = F.least(F.floor(F.col(score) * F.lit(bins)), F.lit(bins - 1)).cast("int")
    is_positive = F.col(label) > F.lit(0.5)
    return (
        df.groupBy(index.alias("bin"))
        .agg(F.count_if(is_positive).alias(POS), F.count_if(~is_positive).alias(NEG))
        .select("bin", POS, NEG)
    )


def level_counts(df: DataFrame, *, groups: Sequence[str], level: Column, label: Column) -> DataFrame:
    """`groups`, `level`, `pos`, `neg`: positives and negatives of `label` per group and score level."""
    is_positive = label > F.lit(0.5)
    return (
        df.groupBy(*groups, level.alias(LEVEL))
        .agg(F.count_if(is_positive).alias(POS), F.count_if(~is_positive).alias(NEG))
        .select(*groups, LEVEL, POS, NEG)
    )


def grouped_auc(counts: DataFrame, *, groups: Sequence[str]) -> DataFrame:
    """`groups`, `auc`, `pos`, `neg` from `level_counts`: `auc_from_counts` per group.

    `auc` is null for a group with only positives or only negatives.
    """
    below = Window.partitionBy(*groups).orderBy(LEVEL).rowsBetween(Window.unboundedPreceding, -1)
    wins = F.col(POS) * (F.coalesce(F.sum(NEG).over(below), F.lit(0)) + F.lit(0.5) * F.col(NEG))
    return (
        counts.select(*groups, POS, NEG, wins.alias("wins"))
        .groupBy(*groups)
        .agg(F.sum("wins").alias("wins"), F.sum(POS).alias(POS), F.sum(NEG).alias(NEG))
        .select(*groups, F.try_divide(F.col("wins"), F.col(POS).cast("double") * F.col(NEG)).alias(AUC), POS, NEG)
    )


def user_auc(df: DataFrame, *, user: str, label: str, score: str) -> DataFrame:
    """`user`, `auc`, `rows` for every user with both classes (GAUC leaves the others out)."""
    counts = level_counts(df, groups=[user], level=F.col(score), label=F.col(label))
    return (
        grouped_auc(counts, groups=[user])
        .where((F.col(POS) > 0) & (F.col(NEG) > 0))
        .select(user, AUC, (F.col(POS) + F.col(NEG)).alias(ROWS))
    )


def gauc_column() -> Column:
    """Rows-weighted mean of per-user AUC: an aggregate over `user_auc` rows."""
    return F.sum(F.col(AUC) * F.col(ROWS)) / F.sum(ROWS)


def logloss_column(label: str, prob: str) -> Column:
    """Mean binary cross-entropy as an aggregate column (probabilities clipped as `logloss`)."""
    p = F.least(F.greatest(F.col(prob), F.lit(_EPS)), F.lit(1 - _EPS))
    y = F.col(label)
    return F.avg(-(y * F.log(p) + (F.lit(1.0) - y) * F.log(F.lit(1.0) - p)))
