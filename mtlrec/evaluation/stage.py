"""`mtlrec evaluate`: the model's test-split AUC and logloss per task, and the oracle's.

The test split is touched here once, for the report; model selection used valid.
The oracle scores each test impression by its true probability (from `truth`, when
the log was generated), the AUC ceiling no model can beat on average.
"""

from __future__ import annotations

import logging

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import Config
from mtlrec.evaluation import transforms as T
from mtlrec.metrics import auc_from_counts
from mtlrec.models.artifact import METADATA
from mtlrec.models.inference import prob_column, with_predictions
from mtlrec.spark_session import get_spark
from mtlrec.summary import RunSummary, StageReport

log = logging.getLogger(__name__)


def binned_auc(df: DataFrame, *, label: str, score: str, bins: int) -> float:
    rows = T.score_bins(df, label=label, score=score, bins=bins).orderBy("bin").collect()
    return auc_from_counts([r["pos"] for r in rows], [r["neg"] for r in rows])  # type: ignore[arg-type]


def run(cfg: Config, summary: RunSummary) -> StageReport:
    spark = get_spark(cfg.spark)
    model_path = summary.artifact("model")
    trained = storage.read_json(f"{model_path}/{METADATA}")
    tasks = tuple(trained["config"]["train"]["tasks"])
    samples_table = trained["tables"][S.SAMPLES_TABLE]
    test = tables.read(spark, samples_table["path"], samples_table["version"]).where(F.col(S.SPLIT) == F.lit(S.TEST))
    predictions = with_predictions(test, model_path=model_path, tasks=tasks, keep=[S.EVENT_ID, *tasks])
    predictions = predictions.persist(StorageLevel.MEMORY_AND_DISK)
    bins = cfg.evaluate.auc_bins
    losses = predictions.agg(*[T.logloss(t, prob_column(t)).alias(t) for t in tasks]).first()
    assert losses is not None
    metrics: dict[str, dict] = {"test": {}}
    for task in tasks:
        metrics["test"][task] = {
            "auc": binned_auc(predictions, label=task, score=prob_column(task), bins=bins),
            "logloss": float(losses[task]),
        }
    rows = predictions.count()
    predictions.unpersist()

    truth_path = tables.table_path(cfg.paths.root, S.TRUTH_TABLE)
    if tables.exists(spark, truth_path):
        with_truth = T.with_oracle(test, tables.read(spark, truth_path))
        metrics["oracle"] = {
            task: {"auc": binned_auc(with_truth, label=task, score=f"oracle_{task}", bins=bins)} for task in tasks
        }
    log.info("evaluate: %s", metrics)
    return StageReport(rows_in=rows, metrics=metrics)
