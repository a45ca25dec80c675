"""Undoing negative down-sampling: the probabilities a model would give on all exposures.

`features` keeps each non-clicked train exposure with chance w (`negative_keep_rate`).
A model trained on those rows without weights (`train.reweight_negatives: false`)
over-estimates clicks: its p relates to the true click probability q by the odds
ratio 1 / w, so q = p / (p + (1 - p) / w). Purchases come only from clicked
exposures, which all stay, so down-sampling leaves the purchase-given-click ratio
p_purchase / p_click unchanged: the corrected p_purchase is q times that ratio.
With `reweight_negatives: true` the loss weights each kept negative by 1 / w, the
model is calibrated as trained, and nothing is corrected.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

_EPS = 1e-12


def keep_rate(*, reweight_negatives: bool, negative_keep_rate: float) -> float:
    """The keep-rate a model's probabilities must be corrected for (1.0: none).

    A model trained with each kept negative weighted 1 / rate is calibrated as trained.
    """
    return 1.0 if reweight_negatives else negative_keep_rate


def corrected(probs: Mapping[str, np.ndarray], rate: float) -> dict[str, np.ndarray]:
    """Per task, the probability on all exposures of a model trained at keep-rate `rate`."""
    out = dict(probs)
    if rate >= 1.0 or "click" not in probs:
        return out
    p = probs["click"]
    q = p / (p + (1.0 - p) / rate)
    out["click"] = q
    if "purchase" in probs:
        out["purchase"] = np.minimum(q * probs["purchase"] / np.maximum(p, _EPS), q)
    return out
