"""Vocabularies: id -> embedding index, stable across runs.

An id gets an index once it has `min_count` events in the train days; a known id keeps
its index forever and new ids are appended after the last one (most frequent first,
ties by id), so a model trained yesterday reads the same rows today. Index 0 is the
out-of-vocabulary row shared by every rare, new or unknown id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.layout import OOV

ID_FEATURES = (S.USER_ID, S.ITEM_ID, S.CATEGORY_ID)


def id_counts(events: DataFrame, *, features: Sequence[str] = ID_FEATURES) -> DataFrame:
    """Events per (feature, id) for each id column in `features` (null ids left out)."""
    long = events.select(*features).unpivot([], list(features), S.FEATURE, S.ID)
    return long.where(F.col(S.ID).isNotNull()).groupBy(S.FEATURE, S.ID).agg(F.count(F.lit(1)).alias(S.COUNT))


def appended(counts: DataFrame, *, existing: DataFrame, min_count: int, added: dt.date) -> DataFrame:
    """The entries to append: frequent ids `existing` lacks, indexed after its last index."""
    frequent = counts.where(F.col(S.COUNT) >= F.lit(min_count))
    new = frequent.join(existing.select(S.FEATURE, S.ID), on=[S.FEATURE, S.ID], how="left_anti")
    last = existing.groupBy(S.FEATURE).agg(F.max(S.INDEX).alias("last"))
    # one sort per feature: the new ids of a run, far fewer than the events
    frequent_first = (
        Window.partitionBy(S.FEATURE)
        .orderBy(F.col(S.COUNT).desc(), F.col(S.ID))
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    index = F.coalesce(F.col("last"), F.lit(OOV)) + F.row_number().over(frequent_first)
    return new.join(F.broadcast(last), on=S.FEATURE, how="left").select(
        S.FEATURE,
        S.ID,
        index.cast("long").alias(S.INDEX),
        F.col(S.COUNT).cast("long").alias(S.COUNT),
        F.lit(added).alias(S.ADDED),
    )
