"""Daily aggregates of events: the increment the point-in-time features are built from.

A day's aggregates depend on that day's events only, so a daily run aggregates the new
days once and later days reuse them from Delta (`user_category_daily`, `item_daily`).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.layout import COUNT_KINDS

KIND_OF = dict(zip(COUNT_KINDS, (S.IMPRESSION, S.CLICK, S.CART, S.PURCHASE), strict=True))
SPEND = "spend"  # sum of purchase prices
CLICKED = "clicked"  # array<struct<ts, item_id>>, the latest clicks first
EVENTS = "events"  # all events of every kind


def _is(kind: str) -> Column:
    return F.col(S.EVENT_TYPE) == F.lit(KIND_OF[kind])


def _kind_counts() -> list[Column]:
    return [F.count_if(_is(kind)).alias(kind) for kind in COUNT_KINDS]


def _spend() -> Column:
    return F.coalesce(F.sum(F.when(_is("purchases"), F.col(S.PRICE))), F.lit(0.0)).alias(SPEND)


def latest_first(entries: Column, n: int) -> Column:
    """The `n` entries of an array<struct<ts, ...>> with the latest `ts` (ties by the rest)."""
    return F.slice(F.sort_array(entries, asc=False), 1, n)


def user_category_daily(events: DataFrame, *, sequence_length: int) -> DataFrame:
    """Per (dt, user_id, category_id): events by kind, spend and the day's last clicks."""
    click = F.when(_is("clicks"), F.struct(F.col(S.TS), F.col(S.ITEM_ID)))
    return (
        events.groupBy(S.DT, S.USER_ID, S.CATEGORY_ID)
        .agg(
            *_kind_counts(),
            _spend(),
            latest_first(F.collect_list(click), sequence_length).alias(CLICKED),
        )
        .select(S.DT, S.USER_ID, S.CATEGORY_ID, *COUNT_KINDS, SPEND, CLICKED)
    )


def item_daily(events: DataFrame, *, item_fields: Sequence[str] = ()) -> DataFrame:
    """Per (dt, item_id): events by kind, revenue, and the day's last price, category and
    value of each of the log's `item_fields` (a brand)."""
    attributes = (S.PRICE, S.CATEGORY_ID, *item_fields)
    last = [F.max_by(c, F.when(F.col(c).isNotNull(), F.col(S.TS))).alias(c) for c in attributes]
    return (
        events.groupBy(S.DT, S.ITEM_ID)
        .agg(*_kind_counts(), _spend(), *last)
        .select(S.DT, S.ITEM_ID, *COUNT_KINDS, SPEND, *attributes)
    )
