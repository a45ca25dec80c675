"""Timestamp point-in-time (`features.point_in_time: timestamp`): an as-of join.

The day's feature row is the state at the start of the exposure's day; this adds the
events of the same day strictly before the exposure's timestamp to every count window
and sets days-since-last to 0 when there was one. Rates, shares, popularity and the
click sequence stay as of the start of the day.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.features.daily import KIND_OF
from mtlrec.layout import COUNT_KINDS, WINDOWS, count_name

MARK = "mark"
_SCOPES = {"user": ((S.USER_ID,), WINDOWS), "item": ((S.ITEM_ID,), WINDOWS), "uc": ((S.USER_ID, S.CATEGORY_ID), (30,))}


def _today(prefix: str, kind: str) -> str:
    return f"{prefix}_{kind}_today"


def earlier_today(exposed: DataFrame, events: DataFrame, *, keys: Sequence[str], prefix: str) -> DataFrame:
    """Per exposure (`event_id`): events of its `keys` on its day strictly before its ts, by kind."""
    marks = exposed.select(*keys, S.DT, S.TS, F.col(S.EVENT_ID).alias(MARK), *[F.lit(0).alias(k) for k in COUNT_KINDS])
    acts = events.select(
        *keys,
        S.DT,
        S.TS,
        F.lit(None).cast("string").alias(MARK),
        *[(F.col(S.EVENT_TYPE) == F.lit(KIND_OF[k])).cast("int").alias(k) for k in COUNT_KINDS],
    )
    before = (
        Window.partitionBy(*keys, S.DT).orderBy(F.unix_micros(F.col(S.TS))).rangeBetween(Window.unboundedPreceding, -1)
    )
    counted = marks.unionByName(acts).withColumns(
        {_today(prefix, k): F.coalesce(F.sum(k).over(before), F.lit(0)).cast("long") for k in COUNT_KINDS}
    )
    return counted.where(F.col(MARK).isNotNull()).select(
        F.col(MARK).alias(S.EVENT_ID), *[_today(prefix, k) for k in COUNT_KINDS]
    )


def as_of_timestamp(samples: DataFrame, events: DataFrame) -> DataFrame:
    """`samples` (one row per exposure, raw feature columns) with same-day earlier events added."""
    out = samples
    for prefix, (keys, windows) in _SCOPES.items():
        out = out.join(earlier_today(samples, events, keys=keys, prefix=prefix), on=S.EVENT_ID, how="left")
        today = {k: F.coalesce(F.col(_today(prefix, k)), F.lit(0)) for k in COUNT_KINDS}
        out = out.withColumns(
            {
                count_name(prefix, k, w): F.coalesce(F.col(count_name(prefix, k, w)), F.lit(0)) + today[k]
                for k in COUNT_KINDS
                for w in windows
            }
        )
        if prefix != "uc":
            seen = sum(today.values(), F.lit(0)) > F.lit(0)
            since = f"{prefix}_days_since_last"
            out = out.withColumn(since, F.when(seen, F.lit(0)).otherwise(F.col(since)))
    return out.select(*samples.columns)
