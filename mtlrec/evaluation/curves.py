"""Metrics from a score histogram: the fixed-size table Spark hands the driver.

`score_bins` counts positives and negatives in `bins` equal-width score bins; from
those counts alone come AUC, the mean prediction and the calibration curve, so no
row of the test split is ever collected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mtlrec.metrics import auc_from_counts


@dataclass(frozen=True)
class ScoreHistogram:
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
