"""The serving path end to end: candidates of a day, their model inputs, the model's probabilities.

`score` ranks these for every user and `evaluate` ranks them as of the first test day;
both call `scored_candidates`, so the offline ranking metrics measure what is served.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.layout import standardisation
from mtlrec.run import paths
from mtlrec.serving.candidates import candidate_pairs
from mtlrec.serving.config import ScoreConfig
from mtlrec.serving.inference import ServedModel, prob_column, with_predictions
from mtlrec.serving.pairs import ITEM_ATTRIBUTES, feature_pairs
from mtlrec.serving.strategy import CTCVR, CVR, with_funnel

# tables the serving path reads as of the day it serves (a run pins their versions)
DAY_TABLES = (S.USER_FEATURES_TABLE, S.ITEM_FEATURES_TABLE, S.USER_CATEGORY_FEATURES_TABLE, S.EVENTS_TABLE)
# tables always read at the version the model was trained with
MODEL_TABLES = (S.VOCABULARY_TABLE, S.FEATURE_STATS_TABLE)


def probability_columns(tasks: tuple[str, ...]) -> list[str]:
    derived = [CTCVR, CVR] if {"click", "purchase"} <= set(tasks) else []
    return [prob_column(t) for t in (*tasks, *derived)]


def scored_candidates(
    spark: SparkSession,
    *,
    root: str,
    model: ServedModel,
    sc: ScoreConfig,
    day: dt.date,
    versions: Mapping[str, int | None],
) -> DataFrame:
    """Every candidate (user, item) of `day` with the item's attributes and p_* columns.

    `versions` pins the day's tables (`DAY_TABLES`; None: latest); the vocabulary and
    feature statistics are always the ones the model was trained with.
    """

    def table(name: str) -> DataFrame:
        trained = model.tables.get(name)
        version = (trained.version if trained else None) if name in MODEL_TABLES else versions.get(name)
        return tables.read(spark, paths.table(root, name), version)

    on_day = F.col(S.DT) == F.lit(day)
    users = table(S.USER_FEATURES_TABLE).where(on_day)
    items = table(S.ITEM_FEATURES_TABLE).where(on_day)
    cross = table(S.USER_CATEGORY_FEATURES_TABLE).where(on_day)
    catalogue_size = items.count()
    pairs = candidate_pairs(users, items, table(S.EVENTS_TABLE), day=day, sc=sc, catalogue_size=catalogue_size)
    inputs = feature_pairs(
        pairs,
        users=users,
        items=items,
        cross=cross,
        vocabulary=table(S.VOCABULARY_TABLE),
        stats=standardisation(table(S.FEATURE_STATS_TABLE)),
        layout=model.layout,
    )
    keep = [S.USER_ID, S.ITEM_ID, *ITEM_ATTRIBUTES]
    return with_funnel(with_predictions(inputs, model=model, keep=keep), model.tasks)


def last_feature_day(spark: SparkSession, *, root: str, version: int | None) -> dt.date:
    """The last day `user_features` describes: the day after the last event."""
    users = tables.read(spark, paths.table(root, S.USER_FEATURES_TABLE), version)
    last = users.agg(F.max(S.DT).alias("day")).first()
    if last is None or last["day"] is None:
        raise ValueError("user_features is empty: nothing to score")
    day: dt.date = last["day"]
    return day
