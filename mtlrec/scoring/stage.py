"""`mtlrec score`: top-K recommendations for every user with history, on Spark.

Users and items are taken as they stand the day after the last event (the feature
tables' last `dt`), the model runs on the executors, and the day's partition of
Delta `recommendations` is replaced.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import Config, config_from_dict
from mtlrec.layout import feature_layout, standardisation
from mtlrec.models.artifact import METADATA
from mtlrec.models.inference import with_predictions
from mtlrec.scoring import transforms as T
from mtlrec.spark_session import get_spark
from mtlrec.summary import RunSummary, StageReport

log = logging.getLogger(__name__)


def run(cfg: Config, summary: RunSummary) -> StageReport:
    spark = get_spark(cfg.spark)
    model_path = summary.artifact("model")
    trained = storage.read_json(f"{model_path}/{METADATA}")
    model_cfg = config_from_dict(trained["config"], source=f"{model_path}/{METADATA}")
    tasks = model_cfg.train.tasks
    layout = feature_layout(model_cfg.model, tasks)

    # the freshest features: the versions this run's features stage wrote; the
    # vocabulary and statistics the model was trained with when its metadata pins them
    def table(name: str, pinned: bool = False) -> DataFrame:
        version = trained["tables"].get(name, {}).get("version") if pinned else None
        version = summary.table_version(name) if version is None else version
        return tables.read(spark, tables.table_path(cfg.paths.root, name), version)

    users, items = table(S.USER_FEATURES_TABLE), table(S.ITEM_FEATURES_TABLE)
    cross = table(S.USER_CATEGORY_FEATURES_TABLE)
    vocabulary = table(S.VOCABULARY_TABLE, pinned=True)
    stats = standardisation(table(S.FEATURE_STATS_TABLE, pinned=True))
    last = users.agg(F.max(S.DT).alias("day")).first()
    if last is None or last["day"] is None:
        raise ValueError("user_features is empty: nothing to score")
    day = last["day"]
    users = users.where(F.col(S.DT) == F.lit(day))
    items = items.where(F.col(S.DT) == F.lit(day))
    cross = cross.where(F.col(S.DT) == F.lit(day))

    sc = cfg.score
    candidates = T.popular_items(items, n=sc.candidates)
    pairs = T.candidate_pairs(users, candidates, cross=cross, vocabulary=vocabulary, stats=stats, layout=layout)
    scored = with_predictions(pairs, model_path=model_path, tasks=tasks, keep=[S.USER_ID, S.ITEM_ID])
    recs = T.top_k(scored, strategy=sc.strategy, k=sc.top_k, tasks=tasks, run_id=summary.run_id, day=day)
    path = tables.table_path(cfg.paths.root, S.RECOMMENDATIONS_TABLE)
    version = tables.replace_dates(recs, path, [day])
    written = tables.read(spark, path, version).where(F.col(S.DT) == F.lit(day))
    counts = written.agg(F.count(F.lit(1)).alias("rows"), F.count_distinct(S.USER_ID).alias("users")).first()
    assert counts is not None
    log.info("score: %d recommendations for %d users on %s", counts["rows"], counts["users"], day)
    return StageReport(
        rows_in=int(counts["users"]),
        rows_out=int(counts["rows"]),
        tables={S.RECOMMENDATIONS_TABLE: version},
        metrics={"score": {"date": day.isoformat(), "users": int(counts["users"])}},
    )
