"""`mtlrec evaluate`: test-split metrics per task, the oracle's AUC, and the report.

The test split is touched here once, for the report; model selection used valid.
The oracle scores each test impression by its true probability (from `truth`, when
the log was generated): the AUC ceiling no model can beat on average. Only fixed-size
aggregates reach the driver: score histograms and one row of means per task.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import numpy as np
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import Config
from mtlrec.evaluation import transforms as T
from mtlrec.evaluation.curves import ScoreHistogram, calibration_curve
from mtlrec.evaluation.report import write_report
from mtlrec.models.artifact import METADATA
from mtlrec.models.inference import prob_column, with_predictions
from mtlrec.spark_session import get_spark
from mtlrec.summary import RunSummary, StageReport

log = logging.getLogger(__name__)


def histogram(df: DataFrame, *, label: str, score: str, bins: int) -> ScoreHistogram:
    rows = T.score_bins(df, label=label, score=score, bins=bins).orderBy("bin").collect()
    return ScoreHistogram(
        bins=bins,
        index=np.array([r["bin"] for r in rows], dtype=np.float64),
        pos=np.array([r["pos"] for r in rows], dtype=np.float64),
        neg=np.array([r["neg"] for r in rows], dtype=np.float64),
    )


def task_metrics(predictions: DataFrame, *, task: str, bins: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """AUC, GAUC, logloss and calibration of one task, and its calibration curve."""
    prob = prob_column(task)
    hist = histogram(predictions, label=task, score=prob, bins=bins)
    per_user = T.user_auc(predictions, user=S.USER_ID, label=task, score=prob)
    row = predictions.agg(T.logloss(task, prob).alias("logloss"), F.avg(prob).alias("mean_p")).first()
    gauc_row = per_user.agg(T.gauc().alias("gauc")).first()
    assert row is not None and gauc_row is not None
    base = hist.base_rate()
    metrics = {
        "auc": hist.auc(),
        "gauc": float(gauc_row["gauc"]) if gauc_row["gauc"] is not None else float("nan"),
        "logloss": float(row["logloss"]),
        "calibration": float(row["mean_p"]) / base if base > 0 else float("nan"),
        "base_rate": base,
    }
    return metrics, calibration_curve(hist)


def publish_report(root: str, run_id: str, **report: Any) -> str:
    """Write the report under `<root>/reports/<run_id>/` (through a local folder)."""
    out = f"{root.rstrip('/')}/reports/{run_id}"
    with tempfile.TemporaryDirectory() as tmp:
        local = out if "://" not in out else tmp
        for path in write_report(local, **report):
            if local != out:
                with open(path, "rb") as f:
                    storage.write_bytes(f"{out}/{os.path.basename(path)}", f.read())
    return out


def run(cfg: Config, summary: RunSummary) -> StageReport:
    spark = get_spark(cfg.spark)
    model_path = summary.artifact("model")
    trained = storage.read_json(f"{model_path}/{METADATA}")
    tasks = tuple(trained["config"]["train"]["tasks"])
    samples_table = trained["tables"][S.SAMPLES_TABLE]
    test = tables.read(spark, samples_table["path"], samples_table["version"]).where(F.col(S.SPLIT) == F.lit(S.TEST))
    predictions = with_predictions(test, model_path=model_path, tasks=tasks, keep=[S.EVENT_ID, S.USER_ID, *tasks])
    predictions = predictions.persist(StorageLevel.MEMORY_AND_DISK)
    bins = cfg.evaluate.auc_bins
    metrics: dict[str, Any] = {"test": {}, "calibration_curve": {}}
    for task in tasks:
        metrics["test"][task], metrics["calibration_curve"][task] = task_metrics(predictions, task=task, bins=bins)
    rows = predictions.count()
    predictions.unpersist()

    truth_path = tables.table_path(cfg.paths.root, S.TRUTH_TABLE)
    if tables.exists(spark, truth_path):
        with_truth = T.with_oracle(test, tables.read(spark, truth_path))
        metrics["oracle"] = {
            task: {"auc": histogram(with_truth, label=task, score=f"oracle_{task}", bins=bins).auc()} for task in tasks
        }
    report = publish_report(
        cfg.paths.root,
        summary.run_id,
        title=f"mtlrec evaluation: run {summary.run_id}, model {trained['model']}",
        metrics=metrics,
        history=trained.get("history", []),
    )
    log.info("evaluate: %s; report in %s", {t: metrics["test"][t] for t in tasks}, report)
    metrics.pop("calibration_curve")  # in the report's metrics.json; the summary keeps scalars
    return StageReport(rows_in=rows, metrics=metrics, artifacts={"report": report})
