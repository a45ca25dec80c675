"""The report and the histogram metrics, on small hand-made numbers (no Spark)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mtlrec import metrics
from mtlrec.evaluation.report import write_report
from mtlrec.metrics import ScoreHistogram


def test_histogram_auc_and_mean_prediction_follow_the_bin_counts() -> None:
    hist = ScoreHistogram(
        bins=10, index=np.array([1.0, 5.0, 9.0]), pos=np.array([0.0, 1.0, 3.0]), neg=np.array([4.0, 1.0, 1.0])
    )

    scores = np.array([0.15] * 4 + [0.55] * 2 + [0.95] * 4)
    labels = np.array([0] * 4 + [1, 0] + [1, 1, 1, 0])
    assert hist.auc() == pytest.approx(metrics.auc(labels, scores))
    assert hist.mean_prediction() == pytest.approx(scores.mean())
    assert hist.base_rate() == pytest.approx(0.4)


def test_report_writes_markdown_metrics_and_every_plot(tmp_path: Path) -> None:
    metrics_in = {
        "test": {"click": {"auc": 0.7, "gauc": 0.6, "logloss": 0.3, "calibration": 1.1}},
        "oracle": {"click": {"auc": 0.9}},
        "calibration_curve": {"click": {"predicted": [0.05, 0.2], "observed": [0.04, 0.25], "rows": [10.0, 10.0]}},
    }
    history = [
        {"epoch": 0, "train/loss": 0.5, "valid/click_auc": 0.6},
        {"epoch": 1, "train/loss": 0.4, "valid/click_auc": 0.65},
    ]

    files = write_report(str(tmp_path), title="t", metrics=metrics_in, history=history)

    names = sorted(Path(f).name for f in files)
    assert names == ["calibration.png", "learning_curves.png", "metrics.json", "report.md", "task_auc.png"]
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "report.md").read_text()
    assert "| click | 0.7000 | 0.6000 | 0.3000 | 1.1000 |" in report
    assert "| click | 0.7000 | 0.9000 | 0.5000 |" in report  # lift share (0.7-0.5)/(0.9-0.5)
