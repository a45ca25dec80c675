"""report.html and the model card, on small hand-made inputs (no Spark)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest

from mtlrec.config import Config
from mtlrec.evaluation.behaviour_report import BehaviourRows, behaviour_sections
from mtlrec.evaluation.card import model_card
from mtlrec.evaluation.html import Importance, write_html
from mtlrec.evaluation.quality_report import quality_sections
from mtlrec.evaluation.report import write_plots
from mtlrec.evaluation.sections import save_figure
from mtlrec.features.config import FeaturesConfig
from mtlrec.train.config import TrainConfig

D = dt.date(2026, 11, 2)
SAMPLES = {
    "train": {"rows": 800.0, "click_rate": 0.1, "sampled_share": 0.75},
    "valid": {"rows": 150.0, "click_rate": 0.1, "sampled_share": 0.0},
    "test": {"rows": 100.0, "click_rate": 0.1, "sampled_share": 0.0},
}


def metadata(cfg: Config) -> dict[str, Any]:
    return {
        "run_id": "r1",
        "model": cfg.model.name,
        "config": cfg.to_dict(),
        "tables": {"samples": {"path": "/t/samples", "version": 3}, "events": {"path": "/t/events", "version": 1}},
        "best_epoch": 2,
        "metrics": {"epoch": 2, "valid/click_auc": 0.71, "valid/purchase_auc": 0.66, "train/loss": 0.4},
        "history": [
            {"epoch": e, "train/loss": 0.5 - e / 10, "valid/click_auc": 0.6, "valid/purchase_auc": 0.6}
            for e in range(3)
        ],
    }


def test_model_card_reads_windows_rows_versions_and_the_down_sampling_limit_from_metadata() -> None:
    cfg = dataclasses.replace(
        Config(),
        # the split dates as train resolved them from the features of its run
        features=FeaturesConfig(
            valid_start=dt.date(2026, 11, 6), test_start=dt.date(2026, 11, 7), negative_keep_rate=0.25
        ),
        train=dataclasses.replace(TrainConfig(), reweight_negatives=False),
    )

    card = model_card(metadata(cfg), samples=SAMPLES, event_days=(dt.date(2026, 11, 1), dt.date(2026, 11, 7)))

    assert card.windows == {
        "train": "2026-11-01 .. 2026-11-05",
        "valid": "2026-11-06 .. 2026-11-06",
        "test": "2026-11-07 .. 2026-11-07",
    }
    assert card.rows == {"train": 800, "valid": 150, "test": 100}
    assert card.tables == {"events": 1, "samples": 3}
    assert card.valid == {"click_auc": 0.71, "purchase_auc": 0.66}
    assert card.recipe["model.name"] == "mmoe" and card.recipe["train.lr"] == cfg.train.lr
    assert any("keep rate w = 0.25" in limit for limit in card.limits)
    assert any("75% of the train exposures are sampled" in limit for limit in card.limits)
    assert any("out-of-vocabulary" in limit for limit in card.limits)


HEADINGS = [
    "Model card",
    "Model card: recipe",
    "Model card: performance",
    "Model card: known limits",
    "Test split, per task",
    "Against the ground truth",
    "Baselines on the test split",
    "Ranking at K = 5",
    "Plots",
    "Feature importance",
    "Behaviour: funnel",
    "Behaviour: weekly cohorts",
    "Behaviour: category trends",
    "Data quality",
]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp_path = tmp_path_factory.mktemp("report")
    tasks = ("click", "purchase")
    metrics = {
        "test": {t: {"auc": 0.7, "gauc": 0.6, "logloss": 0.3, "calibration": 1.1} for t in tasks},
        "oracle": {t: {"auc": 0.9} for t in tasks},
        "calibration_curve": {
            t: {"predicted": [0.05, 0.2], "observed": [0.04, 0.25], "rows": [5.0, 5.0]} for t in tasks
        },
        "baselines": {
            "single_task": {t: {"auc": 0.68, "gauc": 0.6, "logloss": 0.31, "calibration": 1.0} for t in tasks}
        },
        "uplift": {"single_task": {t: {"auc": 0.02, "gauc": 0.0, "logloss": -0.01} for t in tasks}},
        "ranking_k": 5,
        "ranking": {
            "mmoe/ctcvr": {"precision": 0.1, "recall": 0.2, "ndcg": 0.1, "hit_rate": 0.3, "coverage": 0.5, "users": 9}
        },
    }
    funnel = {"impressions": 0, "clicks": 4, "carts": 1, "purchases": 1, "ctr": None, "cart_rate": 0.25}
    funnel |= {"cvr": 0.25, "purchase_rate": None}
    trend = {"category_id": "c1", "window_days": 3, "recent_clicks": 9, "previous_clicks": 4, "click_growth": 2.0}
    trend |= {"recent_purchases": 1, "previous_purchases": 0, "purchase_growth": 2.0}
    rows = BehaviourRows(
        daily=[{"dt": D, **funnel}, {"dt": D + dt.timedelta(days=1), **funnel}],
        categories=[{"category_id": "c1", **funnel}],
        cohorts=[
            {"cohort_week": D, "week_offset": 0, "cohort_size": 3, "return_rate": 1.0, "purchase_share": 0.5},
            {"cohort_week": D, "week_offset": 1, "cohort_size": 3, "return_rate": 0.3, "purchase_share": 0.0},
        ],
        growing=[trend],
        shrinking=[{**trend, "category_id": "c2", "recent_clicks": 1, "click_growth": 0.4}],
        min_clicks=5,
    )
    daily = [{"dt": D, "read": 10, "clean": 7, "duplicates": 1, "quarantined": 2, "late": 0}]
    examples = [{"reason": "bot", "records": 2, "example_dt": D, "example_file": "f", "example": "<script>"}]
    fig, ax = plt.subplots()
    ax.bar(["a"], [1.0])
    importance = Importance("Permutation importance on valid.", [save_figure(fig, str(tmp_path / "imp.png"))])

    path = write_html(
        str(tmp_path / "report.html"),
        title="mtlrec evaluation: run r1",
        metrics=metrics,
        metric_images=write_plots(str(tmp_path), metrics=metrics, history=metadata(Config())["history"]),
        card=model_card(metadata(Config()), samples=SAMPLES),
        behaviour=behaviour_sections(rows, str(tmp_path)),
        quality=quality_sections(daily, [], examples, str(tmp_path)),
        importance=importance,
    )
    return Path(path).read_text()


def test_report_html_has_every_section_and_no_external_reference(page: str) -> None:
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == HEADINGS
    for external in ('src="http', "src='http", 'href="http', "href='http", "<link", "<script", "url("):
        assert external not in page.lower()
    assert "&lt;script&gt;" in page  # a raw record is text, never markup


def test_report_html_inlines_every_image_as_a_data_uri(page: str) -> None:
    sources = re.findall(r"<img [^>]*src=\"([^\"]*)\"", page)
    # calibration, learning curves, task AUC, ranking, importance, funnel, cohorts, trends, ingest outcomes
    assert len(sources) == len(re.findall(r"<img ", page)) == 9
    assert all(src.startswith("data:image/png;base64,iVBORw0KGgo") for src in sources)
