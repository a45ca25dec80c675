"""`mtlrec evaluate`: test-split metrics per task, the oracle's AUC, and the report.

The test split is touched here once, for the report; model selection used valid.
The oracle scores each test impression by its true probability (from `truth`, when
the log was generated): the AUC ceiling no model can beat on average. Only fixed-size
aggregates reach the driver: score histograms and one row of means per task.
With MLflow tracking on, the metrics and the report folder also go to the model's MLflow
run (`mtlrec.tracking.log_evaluation`), once the report is complete.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import time
from typing import Any

import numpy as np
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import metrics as M
from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import Config
from mtlrec.evaluation import transforms as T
from mtlrec.evaluation.extras import publish_html, write_behaviour
from mtlrec.evaluation.html import Importance
from mtlrec.evaluation.importance import describe, permutation_importance, plot_importance
from mtlrec.evaluation.ranking import purchases, ranking_metrics, threshold_metrics
from mtlrec.evaluation.report import write_report
from mtlrec.models.artifact import load_model
from mtlrec.run import paths
from mtlrec.run.metrics import EvaluateMetrics, FeaturesMetrics
from mtlrec.run.summary import REPORT, RunSummary, StageReport
from mtlrec.serving.inference import ServedModel, prob_column, with_predictions
from mtlrec.serving.scored import scored_candidates
from mtlrec.serving.strategy import ranked
from mtlrec.spark_session import get_spark
from mtlrec.tracking import log_evaluation, model_run

log = logging.getLogger(__name__)


def histogram(df: DataFrame, *, label: str, score: str, bins: int) -> M.ScoreHistogram:
    rows = M.score_bins(df, label=label, score=score, bins=bins).orderBy("bin").collect()
    return M.ScoreHistogram(
        bins=bins,
        index=np.array([r["bin"] for r in rows], dtype=np.float64),
        pos=np.array([r["pos"] for r in rows], dtype=np.float64),
        neg=np.array([r["neg"] for r in rows], dtype=np.float64),
    )


def task_metrics(predictions: DataFrame, *, task: str, bins: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """AUC, GAUC, logloss and calibration of one task, and its calibration curve."""
    prob = prob_column(task)
    hist = histogram(predictions, label=task, score=prob, bins=bins)
    per_user = M.user_auc(predictions, user=S.USER_ID, label=task, score=prob)
    row = predictions.agg(M.logloss_column(task, prob).alias("logloss"), F.avg(prob).alias("mean_p")).first()
    gauc_row = per_user.agg(M.gauc_column().alias("gauc")).first()
    assert row is not None and gauc_row is not None
    base = hist.base_rate()
    metrics = {
        "auc": hist.auc(),
        "gauc": float(gauc_row["gauc"]) if gauc_row["gauc"] is not None else float("nan"),
        "logloss": float(row["logloss"]),
        "calibration": float(row["mean_p"]) / base if base > 0 else float("nan"),
        "base_rate": base,
    }
    return metrics, M.calibration_curve(hist)


def publish_report(root: str, run_id: str, **report: Any) -> str:
    """Write the report under `<root>/reports/<run_id>/` (through a local folder)."""
    out = paths.report(root, run_id)
    with tempfile.TemporaryDirectory() as tmp:
        local = out if "://" not in out else tmp
        for path in write_report(local, **report):
            if local != out:
                with open(path, "rb") as f:
                    storage.write_bytes(f"{out}/{os.path.basename(path)}", f.read())
    return out


MOST_POPULAR = "most_popular"  # the ranking baseline: every user's candidates by 30-day clicks


def test_days(spark: SparkSession, test: DataFrame) -> tuple[dt.date, dt.date]:
    """First and last day of the test split (one row reaches the driver)."""
    row = test.agg(F.min(S.DT).alias("first"), F.max(S.DT).alias("last")).first()
    assert row is not None and row["first"] is not None, "the test split is empty"
    return row["first"], row["last"]


def ranking(
    spark: SparkSession, cfg: Config, models: dict[str, ServedModel], *, days: tuple[dt.date, dt.date]
) -> dict[str, dict[str, float]]:
    """`<model>/<strategy>` -> top-K metrics: lists as of the first test day, against test purchases.

    Only the buyers of the test days are scored: every metric but coverage averages over
    them, and a user's list does not depend on who else is scored, so the others' lists
    would change nothing but the time (at 200k users and ~1k buyers, almost all of it).
    Coverage is therefore the share of the catalogue in the buyers' lists.
    """
    main = next(iter(models.values()))
    first, last = days
    events = main.tables[S.EVENTS_TABLE]
    bought = purchases(tables.read(spark, events.path, events.version), first, last).persist(
        StorageLevel.MEMORY_AND_DISK  # read by each model's scoring and its metrics
    )
    items = main.tables[S.ITEM_FEATURES_TABLE]
    catalogue = tables.read(spark, items.path, items.version).where(F.col(S.DT) == F.lit(first)).count()
    versions: dict[str, int | None] = {name: table.version for name, table in main.tables.items()}
    ec, sc = cfg.evaluate, cfg.score
    out: dict[str, dict[str, float]] = {}
    try:
        for label, model in models.items():
            strategies = dict(sc.strategies)
            if model is main:
                strategies[MOST_POPULAR] = {"popularity": 1.0}
            scored = scored_candidates(
                spark, root=cfg.paths.root, model=model, sc=sc, day=first, versions=versions, only=bought
            )
            lists = ranked(scored.pairs, strategies=strategies, k=ec.ranking_k, category_cap=sc.category_cap)
            # the metrics read the lists three times (hits, strategies, coverage): the
            # candidates and their inference are computed once, into K rows per buyer
            lists = lists.persist(StorageLevel.MEMORY_AND_DISK)
            try:
                metrics = ranking_metrics(lists, bought, k=ec.ranking_k, catalogue_size=catalogue)
            finally:
                lists.unpersist()
            for strategy, values in metrics.items():
                key = f"{'popular' if strategy == MOST_POPULAR else label}/{strategy}"
                out[key] = values
    finally:
        bought.unpersist()
    return dict(sorted(out.items()))


def test_predictions(model: ServedModel, test: DataFrame) -> DataFrame:
    keep = [S.EVENT_ID, S.USER_ID, *model.tasks]
    return with_predictions(test, model=model, keep=keep).persist(StorageLevel.MEMORY_AND_DISK)


def importance(
    test: DataFrame, model: ServedModel, *, total: int, rows: int, repeats: int, seed: int, out: str
) -> Importance:
    """Permutation importance of the model's feature groups on a sample of `rows` test rows.

    The sample (bounded by `rows`, whatever the split's size) is the only part of the
    test split that reaches the driver.
    """
    loaded = load_model(model.path)
    sample = test.sample(fraction=min(1.0, 1.2 * rows / max(total, 1)), seed=seed).limit(rows)
    frame = sample.select(*loaded.layout.columns, *model.tasks).toArrow()
    columns = {c: frame.column(c).to_numpy(zero_copy_only=False) for c in loaded.layout.columns}
    labels = {t: frame.column(t).to_numpy(zero_copy_only=False) for t in model.tasks}
    result = permutation_importance(loaded.model, loaded.layout, columns, labels, repeats=repeats, seed=seed)
    return Importance(text=describe(result), images=plot_importance(result, out))


def run(cfg: Config, summary: RunSummary) -> StageReport:
    spark = get_spark(cfg.spark)
    test_rows = summary.split_rows().get(S.TEST, 0)
    if summary.split_rows() and not test_rows:
        features = FeaturesMetrics.read_from(summary.metrics)
        test_start = features.splits.get("test_start") if features else None
        raise ValueError(
            f"the test split of samples v{summary.table_version(S.SAMPLES_TABLE)} is empty (test: "
            f"{test_start or cfg.features.test_start} to the last event day): the events do not reach it, "
            "or every exposure there still has an open attribution window "
            f"(features.attribution_hours {cfg.features.attribution_hours})"
        )
    # the behaviour tables describe the log, not the model: written first, they stand
    # whatever happens to the model's part
    written = write_behaviour(spark, cfg.paths.root, summary)
    model = ServedModel.load(summary.model_path())
    baselines = {name: ServedModel.load(path) for name, path in summary.baseline_models().items()}
    tasks = model.tasks
    samples_table = model.tables[S.SAMPLES_TABLE]
    test = tables.read(spark, samples_table.path, samples_table.version).where(F.col(S.SPLIT) == F.lit(S.TEST))
    bins = cfg.evaluate.auc_bins
    metrics: dict[str, Any] = {"test": {}, "calibration_curve": {}, "thresholds": {}}
    predictions = test_predictions(model, test)
    for task in tasks:
        metrics["test"][task], metrics["calibration_curve"][task] = task_metrics(predictions, task=task, bins=bins)
        threshold = cfg.evaluate.thresholds.get(task)
        if threshold is not None:
            metrics["thresholds"][task] = threshold_metrics(
                predictions, label=task, prob=prob_column(task), threshold=threshold
            )
    rows = predictions.count()
    predictions.unpersist()

    if baselines:
        metrics["baselines"] = {}
        for name, base in baselines.items():
            base_predictions = test_predictions(base, test)
            metrics["baselines"][name] = {
                task: task_metrics(base_predictions, task=task, bins=bins)[0] for task in base.tasks
            }
            base_predictions.unpersist()
        metrics["uplift"] = {
            name: {
                task: {m: metrics["test"][task][m] - base[task][m] for m in ("auc", "gauc", "logloss")}
                for task in tasks
                if task in base
            }
            for name, base in metrics["baselines"].items()
        }

    truth_path = paths.table(cfg.paths.root, S.TRUTH_TABLE)
    if tables.exists(spark, truth_path):
        with_truth = T.with_oracle(test, tables.read(spark, truth_path))
        metrics["oracle"] = {
            task: {"auc": histogram(with_truth, label=task, score=f"oracle_{task}", bins=bins).auc()} for task in tasks
        }
    metrics["ranking_k"] = cfg.evaluate.ranking_k
    began = time.perf_counter()
    metrics["ranking"] = ranking(spark, cfg, {model.name: model, **baselines}, days=test_days(spark, test))
    metrics["ranking_seconds"] = round(time.perf_counter() - began, 2)
    title = f"mtlrec evaluation: run {summary.run_id}, model {model.name}"
    report = publish_report(
        cfg.paths.root, summary.run_id, title=title, metrics=metrics, history=model.metadata.history
    )
    ec = cfg.evaluate
    with tempfile.TemporaryDirectory() as plots:
        began = time.perf_counter()
        relied_on = None
        if ec.importance_rows > 0:
            relied_on = importance(
                test,
                model,
                total=rows,  # the test split's rows, counted with the predictions
                rows=ec.importance_rows,
                repeats=ec.importance_repeats,
                seed=ec.seed,
                out=plots,
            )
        metrics["importance_seconds"] = round(time.perf_counter() - began, 2)
        extras = publish_html(
            spark,
            cfg.paths.root,
            summary,
            model.metadata,
            title=title,
            metrics=metrics,
            out=report,
            written=written,
            importance=relied_on,
        )
    metrics["report_extras_seconds"] = extras.seconds
    log.info(
        "evaluate: ranking %.1fs; behaviour and data quality %.1fs, feature importance %.1fs (apart from the metrics)",
        metrics["ranking_seconds"],
        extras.seconds,
        metrics["importance_seconds"],
    )
    log.info("evaluate: %s; report in %s", {t: metrics["test"][t] for t in tasks}, report)
    for key, values in metrics["ranking"].items():
        log.info("evaluate: ranking %s: %s", key, {m: round(v, 4) for m, v in values.items()})
    metrics.pop("calibration_curve")  # in the report's metrics.json; the summary keeps scalars
    log_evaluation(
        cfg,
        model_run_id=model_run(model.metadata.record),
        run_name=summary.run_id,
        metrics=metrics,
        report_dir=report,
    )
    return StageReport(
        rows_in=rows, tables=extras.tables, metrics=EvaluateMetrics(**metrics), artifacts={REPORT: report}
    )
