"""The serving path end to end: candidates of a day, their model inputs, the model's probabilities.

`score` ranks these for every user and `evaluate` ranks them as of the first test day;
both call `scored_candidates`, so the offline ranking metrics measure what is served.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.layout import standardisation
from mtlrec.run import paths
from mtlrec.serving import candidates
from mtlrec.serving.candidates import candidate_pairs
from mtlrec.serving.config import ScoreConfig
from mtlrec.serving.inference import ServedModel, prob_column, with_predictions
from mtlrec.serving.pairs import ITEM_ATTRIBUTES, feature_pairs
from mtlrec.serving.strategy import CTCVR, CVR, with_funnel

# tables the serving path reads as of the day it serves (a run pins their versions)
DAY_TABLES = (S.USER_FEATURES_TABLE, S.ITEM_FEATURES_TABLE, S.USER_CATEGORY_FEATURES_TABLE, S.EVENTS_TABLE)
# tables always read at the version the model was trained with
MODEL_TABLES = (S.VOCABULARY_TABLE, S.FEATURE_STATS_TABLE)


ROW_DAY = "feature_row_day"  # the day a served user's feature row describes (null: none)
IN_WINDOW, LAST_KNOWN, NO_ROW = "feature_row_of_the_day", "last_known_feature_row", "no_feature_row"


@dataclass(frozen=True)
class Scored:
    pairs: DataFrame  # every candidate (user, item) with the item's attributes and p_* columns
    users: DataFrame  # the users served, one row each, with `ROW_DAY`


def users_as_of(user_features: DataFrame, events: DataFrame, day: dt.date) -> DataFrame:
    """A feature row for every user with an event before `day`, as of `day`.

    The day's own row when the user has one (an event in the feature window); else the
    user's last known row (a lapsed user: its windows then hold little or nothing, as
    they would today, and its top categories still choose candidates); else, for a user
    with no feature row at all, an empty one (the model's inputs take the train means,
    the candidates are the popular items). `ROW_DAY` keeps the day the row describes.
    """
    on_day = user_features.where(F.col(S.DT) == F.lit(day))
    earlier = user_features.where(F.col(S.DT) < F.lit(day)).join(
        on_day.select(S.USER_ID), on=S.USER_ID, how="left_anti"
    )
    last = earlier.groupBy(S.USER_ID).agg(F.max(S.DT).alias(ROW_DAY))
    lapsed = earlier.join(last, on=[S.USER_ID]).where(F.col(S.DT) == F.col(ROW_DAY))
    known = on_day.withColumn(ROW_DAY, F.col(S.DT)).unionByName(lapsed)
    with_events = candidates.before(events, day).select(S.USER_ID).distinct()
    no_row = with_events.join(known.select(S.USER_ID), on=S.USER_ID, how="left_anti")
    return (
        known.unionByName(no_row, allowMissingColumns=True)
        .withColumn(S.DT, F.lit(day))
        .withColumn(ROW_DAY, F.col(ROW_DAY).cast("date"))
    )


def user_paths(users: DataFrame, day: dt.date) -> dict[str, int]:
    """Served users by where their feature row came from (`users_as_of`)."""
    path = (
        F.when(F.col(ROW_DAY) == F.lit(day), F.lit(IN_WINDOW))
        .when(F.col(ROW_DAY).isNotNull(), F.lit(LAST_KNOWN))
        .otherwise(F.lit(NO_ROW))
    )
    counts = {r["path"]: int(r["count"]) for r in users.groupBy(path.alias("path")).count().collect()}
    return {name: counts.get(name, 0) for name in (IN_WINDOW, LAST_KNOWN, NO_ROW)}


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
    only: DataFrame | None = None,
) -> Scored:
    """Every candidate (user, item) of `day` with the item's attributes and p_* columns, for
    every user with an event before `day` (`users_as_of`), or only the users of `only`
    (a frame with a `user_id` column): a user's candidates and scores never depend on
    the other users scored beside them.

    `versions` pins the day's tables (`DAY_TABLES`; None: latest); the vocabulary and
    feature statistics are always the ones the model was trained with.
    """

    def table(name: str) -> DataFrame:
        trained = model.tables.get(name)
        version = (trained.version if trained else None) if name in MODEL_TABLES else versions.get(name)
        return tables.read(spark, paths.table(root, name), version)

    on_day = F.col(S.DT) == F.lit(day)
    events = table(S.EVENTS_TABLE)
    users = users_as_of(table(S.USER_FEATURES_TABLE), events, day)
    if only is not None:
        users = users.join(only.select(S.USER_ID).distinct(), on=S.USER_ID, how="left_semi")
    items = table(S.ITEM_FEATURES_TABLE).where(on_day)
    cross = table(S.USER_CATEGORY_FEATURES_TABLE).where(on_day)
    catalogue_size = items.count()
    pairs = candidate_pairs(users, items, events, day=day, sc=sc, catalogue_size=catalogue_size)
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
    scored = with_funnel(with_predictions(inputs, model=model, keep=keep), model.tasks)
    return Scored(pairs=scored, users=users.select(S.USER_ID, ROW_DAY))


def last_feature_day(spark: SparkSession, *, root: str, version: int | None) -> dt.date:
    """The last day `user_features` describes: the day after the last event."""
    users = tables.read(spark, paths.table(root, S.USER_FEATURES_TABLE), version)
    last = users.agg(F.max(S.DT).alias("day")).first()
    if last is None or last["day"] is None:
        raise ValueError("user_features is empty: nothing to score")
    day: dt.date = last["day"]
    return day
