"""`mtlrec score`: top-K recommendations for every user with history, and item leaderboards.

Users and items are taken as they stand the day after the last event (the feature
tables' last `dt`). Each user's candidates (`scoring.candidates`) get the model's
inputs as `features` builds them, the model runs on the executors (loaded once per
Python worker), and every named strategy ranks them. The day's partitions of Delta
`recommendations` and `leaderboard` are replaced, so a re-run gives the same tables.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import Config, config_from_dict
from mtlrec.layout import feature_layout, standardisation
from mtlrec.models.artifact import METADATA
from mtlrec.models.inference import prob_column, with_predictions
from mtlrec.scoring import leaderboard
from mtlrec.scoring.candidates import candidate_pairs
from mtlrec.scoring.pairs import ITEM_ATTRIBUTES, feature_pairs
from mtlrec.scoring.strategy import CTCVR, CVR, ranked, with_funnel
from mtlrec.spark_session import get_spark
from mtlrec.summary import RunSummary, StageReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Model:
    """A trained model as scoring needs it: where it is, what it predicts, what it read."""

    path: str
    run_id: str
    tasks: tuple[str, ...]
    config: Config
    tables: dict[str, Any]  # name -> {"path", "version"} the model was trained from
    metadata: dict[str, Any]  # the artifact's metadata.json as written by `train`

    @classmethod
    def load(cls, path: str) -> Model:
        metadata = storage.read_json(f"{path}/{METADATA}")
        cfg = config_from_dict(metadata["config"], source=f"{path}/{METADATA}")
        return cls(path, str(metadata["run_id"]), cfg.train.tasks, cfg, metadata["tables"], metadata)


def probability_columns(tasks: tuple[str, ...]) -> list[str]:
    derived = [CTCVR, CVR] if {"click", "purchase"} <= set(tasks) else []
    return [prob_column(t) for t in (*tasks, *derived)]


def scored_candidates(
    spark: SparkSession,
    cfg: Config,
    model: Model,
    *,
    day: dt.date,
    versions: Mapping[str, int | None],
) -> DataFrame:
    """Every candidate (user, item) of `day` with the item's attributes and p_* columns.

    `versions` pins the feature tables and `events` (None: latest); the vocabulary
    and feature statistics are always the ones the model was trained with.
    """

    def table(name: str) -> DataFrame:
        pinned = model.tables.get(name, {}).get("version")
        version = pinned if name in (S.VOCABULARY_TABLE, S.FEATURE_STATS_TABLE) else versions.get(name)
        return tables.read(spark, tables.table_path(cfg.paths.root, name), version)

    on_day = F.col(S.DT) == F.lit(day)
    users = table(S.USER_FEATURES_TABLE).where(on_day)
    items = table(S.ITEM_FEATURES_TABLE).where(on_day)
    cross = table(S.USER_CATEGORY_FEATURES_TABLE).where(on_day)
    catalogue_size = items.count()
    pairs = candidate_pairs(users, items, table(S.EVENTS_TABLE), day=day, sc=cfg.score, catalogue_size=catalogue_size)
    layout = feature_layout(model.config.model, model.tasks)
    inputs = feature_pairs(
        pairs,
        users=users,
        items=items,
        cross=cross,
        vocabulary=table(S.VOCABULARY_TABLE),
        stats=standardisation(table(S.FEATURE_STATS_TABLE)),
        layout=layout,
    )
    keep = [S.USER_ID, S.ITEM_ID, *ITEM_ATTRIBUTES]
    return with_funnel(with_predictions(inputs, model_path=model.path, tasks=model.tasks, keep=keep), model.tasks)


def last_feature_day(spark: SparkSession, cfg: Config, version: int | None) -> dt.date:
    users = tables.read(spark, tables.table_path(cfg.paths.root, S.USER_FEATURES_TABLE), version)
    last = users.agg(F.max(S.DT).alias("day")).first()
    if last is None or last["day"] is None:
        raise ValueError("user_features is empty: nothing to score")
    day: dt.date = last["day"]
    return day


def run(cfg: Config, summary: RunSummary) -> StageReport:
    spark = get_spark(cfg.spark)
    model = Model.load(summary.artifact("model"))
    names = (S.USER_FEATURES_TABLE, S.ITEM_FEATURES_TABLE, S.USER_CATEGORY_FEATURES_TABLE, S.EVENTS_TABLE)
    versions = {name: summary.table_version(name) for name in names}
    day = last_feature_day(spark, cfg, versions[S.USER_FEATURES_TABLE])
    sc = cfg.score
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(sc.batch_size))  # rows per model batch
    log.info("score: %s with model %s (%s), strategies %s", day, model.run_id, model.path, ", ".join(sc.strategies))

    scored = scored_candidates(spark, cfg, model, day=day, versions=versions).persist(StorageLevel.MEMORY_AND_DISK)
    probs = probability_columns(model.tasks)
    recs = ranked(scored, strategies=sc.strategies, k=sc.top_k, category_cap=sc.category_cap).select(
        F.lit(day).alias(S.DT),
        S.USER_ID,
        S.STRATEGY,
        S.RANK,
        S.ITEM_ID,
        S.SCORE,
        *probs,
        S.CATEGORY_ID,
        S.PRICE,
        F.lit(model.run_id).alias(S.MODEL_RUN_ID),
    )
    recs_path = tables.table_path(cfg.paths.root, S.RECOMMENDATIONS_TABLE)
    recs_version = tables.replace_dates(recs, recs_path, [day])

    boards = leaderboard.trending(
        tables.read(
            spark, tables.table_path(cfg.paths.root, S.ITEM_DAILY_TABLE), summary.table_version(S.ITEM_DAILY_TABLE)
        ),
        day=day,
        days=sc.trending_days,
        n=sc.leaderboard_size,
    )
    if prob_column(CTCVR) in probs:
        boards = leaderboard.expected_purchases(scored, n=sc.leaderboard_size).unionByName(boards)
    boards = boards.select(F.lit(day).alias(S.DT), *leaderboard.COLUMNS, F.lit(model.run_id).alias(S.MODEL_RUN_ID))
    boards_path = tables.table_path(cfg.paths.root, S.LEADERBOARD_TABLE)
    boards_version = tables.replace_dates(boards, boards_path, [day])
    pairs = scored.count()
    scored.unpersist()

    written = tables.read(spark, recs_path, recs_version).where(F.col(S.DT) == F.lit(day))
    counts = written.agg(F.count(F.lit(1)).alias("rows"), F.count_distinct(S.USER_ID).alias("users")).first()
    assert counts is not None
    log.info(
        "score: %d candidate pairs scored; %d recommendations for %d users on %s",
        pairs,
        counts["rows"],
        counts["users"],
        day,
    )
    return StageReport(
        rows_in=pairs,
        rows_out=int(counts["rows"]),
        tables={S.RECOMMENDATIONS_TABLE: recs_version, S.LEADERBOARD_TABLE: boards_version},
        metrics={"score": {"date": day.isoformat(), "users": int(counts["users"]), "pairs": pairs}},
    )
