from __future__ import annotations

import numpy as np
import pytest

from mtlrec.models.calibration import corrected, keep_rate


def test_correction_recovers_the_probabilities_before_down_sampling() -> None:
    # true chances on all exposures; keeping non-clicks at rate w gives the trained
    # model's targets: click c / (c + w (1 - c)), purchase ctcvr / (c + w (1 - c))
    click, ctcvr, w = np.array([0.02, 0.1, 0.5]), np.array([0.001, 0.02, 0.3]), 0.25
    kept = click + w * (1 - click)
    trained = {"click": click / kept, "purchase": ctcvr / kept}

    fixed = corrected(trained, w)

    np.testing.assert_allclose(fixed["click"], click, rtol=1e-12)
    np.testing.assert_allclose(fixed["purchase"], ctcvr, rtol=1e-12)


def test_q_follows_the_formula_for_one_probability() -> None:
    # q = p / (p + (1 - p) / w) = 0.5 / (0.5 + 0.5 / 0.1) = 1 / 11
    assert corrected({"click": np.array([0.5])}, 0.1)["click"][0] == pytest.approx(1 / 11)


def test_no_correction_at_keep_rate_one_or_without_a_click_task() -> None:
    probs = {"click": np.array([0.3]), "purchase": np.array([0.1])}

    assert corrected(probs, 1.0) == probs
    assert corrected({"purchase": np.array([0.1])}, 0.5)["purchase"][0] == 0.1


def test_a_reweighted_model_needs_no_correction_an_unweighted_one_does() -> None:
    assert keep_rate(reweight_negatives=True, negative_keep_rate=0.2) == 1.0  # the loss weighted negatives by 1 / 0.2
    assert keep_rate(reweight_negatives=False, negative_keep_rate=0.2) == 0.2
