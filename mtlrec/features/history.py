"""Point-in-time state per id and day, from the daily aggregates of the days before it.

A feature row keyed by (id, dt) describes the id as it was at the start of `dt`: its
windows sum the daily aggregates of days dt-w .. dt-1, never dt itself or later. Each
daily row is spread to the target days it is history for (offset 1..30 days); offset
0 only marks the id as active on that day. A target day keeps the ids active on it
(samples need them) and, on the scoring date, every id with history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.features.daily import CLICKED, EVENTS, SPEND, latest_first
from mtlrec.layout import COUNT_KINDS, HISTORY_DAYS, TOP_CATEGORIES, WINDOWS, count_name

OFFSET = "offset"  # days from the aggregated day to the target day
ACTIVE = "active"  # the id has events on the target day itself
LAST = "last_offset"  # days since the latest active day in the window
PRIOR_CTR, PRIOR_CVR = "prior_ctr", "prior_cvr"
TOP = "top"
CLICK_ITEMS = "user_click_items"  # the last clicked item ids, latest first


def spread(daily: DataFrame, *, targets: Sequence[dt.date]) -> DataFrame:
    """Each daily row once per target day within HISTORY_DAYS after it, with its `offset`."""
    days = F.array(*[F.lit(t) for t in sorted(set(targets))])
    reach = F.filter(days, lambda t: F.datediff(t, F.col(S.DT)).between(0, HISTORY_DAYS))
    spreaded = daily.withColumn("target", F.explode(reach))
    return spreaded.select(
        *[c for c in daily.columns if c != S.DT],
        F.col("target").alias(S.DT),
        F.datediff(F.col("target"), F.col(S.DT)).alias(OFFSET),
    )


def _within(days: int, column: str) -> Column:
    return F.coalesce(F.sum(F.when(F.col(OFFSET).between(1, days), F.col(column))), F.lit(0))


def _history_aggs(windows: Sequence[int]) -> list[Column]:
    """Window sums by kind, events and spend over 30 days, last active offset, active flag."""
    events = sum((F.col(k) for k in COUNT_KINDS), F.lit(0))
    seen = (F.col(OFFSET) >= F.lit(1)) & (events > F.lit(0))
    return [
        *[_within(w, k).cast("long").alias(f"{k}_{w}d") for k in COUNT_KINDS for w in windows],
        F.coalesce(F.sum(F.when(F.col(OFFSET).between(1, HISTORY_DAYS), events)), F.lit(0)).cast("long").alias(EVENTS),
        _within(HISTORY_DAYS, SPEND).cast("double").alias(SPEND),
        F.min(F.when(seen, F.col(OFFSET))).alias(LAST),
        F.max(F.col(OFFSET) == F.lit(0)).alias(ACTIVE),
    ]


def _kept(end: dt.date) -> Column:
    return F.col(ACTIVE) | (F.col(S.DT) == F.lit(end))


def _rate(hits: str, trials: str, prior: str, smoothing: float) -> Column:
    a = F.lit(smoothing)
    return F.try_divide(F.col(hits) + a * F.col(prior), F.col(trials) + a)


def _rates_and_recency(prefix: str, smoothing: float) -> list[Column]:
    return [
        _rate("clicks_30d", "impressions_30d", PRIOR_CTR, smoothing).alias(f"{prefix}_ctr_30d"),
        _rate("purchases_30d", "clicks_30d", PRIOR_CVR, smoothing).alias(f"{prefix}_cvr_30d"),
        F.coalesce(F.col(LAST), F.lit(HISTORY_DAYS + 1)).cast("int").alias(f"{prefix}_days_since_last"),
    ]


def _renamed_counts(prefix: str, windows: Sequence[int]) -> list[Column]:
    return [F.col(f"{k}_{w}d").alias(count_name(prefix, k, w)) for k in COUNT_KINDS for w in windows]


def user_category_state(spreaded: DataFrame, *, sequence_length: int) -> DataFrame:
    """Per (user_id, category_id, dt): window sums, recency, activity, last clicks."""
    recent = F.flatten(F.collect_list(F.when(F.col(OFFSET) >= F.lit(1), F.col(CLICKED))))
    return spreaded.groupBy(S.USER_ID, S.CATEGORY_ID, S.DT).agg(
        *_history_aggs(WINDOWS), latest_first(recent, sequence_length).alias(CLICKED)
    )


def cross_features(state: DataFrame, *, end: dt.date) -> DataFrame:
    """User x category counts over 30 days and the category's share of the user's events."""
    user_day = Window.partitionBy(S.USER_ID, S.DT).rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    # the share is of all the user's categories, so it is taken before rows are dropped
    share = F.coalesce(F.try_divide(F.col(EVENTS), F.sum(EVENTS).over(user_day)), F.lit(0.0))
    return (
        state.withColumn("uc_share_30d", share)
        .where(_kept(end))
        .select(
            S.USER_ID,
            S.CATEGORY_ID,
            S.DT,
            *[F.col(f"{k}_30d").alias(count_name("uc", k, 30)) for k in COUNT_KINDS],
            "uc_share_30d",
        )
    )


def user_features(
    state: DataFrame, *, priors: DataFrame, smoothing: float, sequence_length: int, end: dt.date
) -> DataFrame:
    """Per (user_id, dt): the user's windows, rates, recency, spend, top categories, clicks."""
    top = F.struct((-F.col(EVENTS)).alias("neg"), F.col(S.CATEGORY_ID).alias("cat"), F.col(EVENTS).alias("n"))
    sums = [F.sum(f"{k}_{w}d").alias(f"{k}_{w}d") for k in COUNT_KINDS for w in WINDOWS]
    users = state.groupBy(S.USER_ID, S.DT).agg(
        *sums,
        F.sum(EVENTS).alias(EVENTS),
        F.sum(SPEND).alias(SPEND),
        F.min(LAST).alias(LAST),
        F.max(ACTIVE).alias(ACTIVE),
        F.sort_array(F.collect_list(F.when(F.col(EVENTS) > F.lit(0), top))).alias(TOP),
        latest_first(F.flatten(F.collect_list(CLICKED)), sequence_length).alias(CLICKED),
    )
    ranks = range(TOP_CATEGORIES)
    return (
        users.where(_kept(end))
        .join(F.broadcast(priors), on=S.DT, how="left")
        .select(
            S.USER_ID,
            S.DT,
            *_renamed_counts("user", WINDOWS),
            *_rates_and_recency("user", smoothing),
            F.col(SPEND).alias("user_spend_30d"),
            *[F.get(F.col(TOP), k)["cat"].alias(f"user_top{k + 1}_category") for k in ranks],
            *[
                F.coalesce(F.try_divide(F.get(F.col(TOP), k)["n"], F.col(EVENTS)), F.lit(0.0)).alias(
                    f"user_top{k + 1}_share"
                )
                for k in ranks
            ],
            F.transform(F.col(CLICKED), lambda c: c[S.ITEM_ID]).alias(CLICK_ITEMS),
        )
    )


def item_state(spreaded: DataFrame, *, item_fields: Sequence[str] = ()) -> DataFrame:
    """Per (item_id, dt): window sums, recency, activity, last known price, category and
    value of each of `item_fields`."""
    before = F.when(F.col(OFFSET) >= F.lit(1), -F.col(OFFSET))
    last = [F.max_by(c, F.when(F.col(c).isNotNull(), before)).alias(c) for c in (S.PRICE, S.CATEGORY_ID, *item_fields)]
    return spreaded.groupBy(S.ITEM_ID, S.DT).agg(*_history_aggs(WINDOWS), *last)


def priors(items: DataFrame) -> DataFrame:
    """Per dt: the population CTR and purchases per click of the 30 days before it."""
    totals = items.groupBy(S.DT).agg(*[F.sum(f"{k}_30d").alias(k) for k in ("impressions", "clicks", "purchases")])
    return totals.select(
        S.DT,
        F.try_divide(F.col("clicks"), F.col("impressions")).alias(PRIOR_CTR),
        F.try_divide(F.col("purchases"), F.col("clicks")).alias(PRIOR_CVR),
    )


def item_features(
    state: DataFrame, *, priors: DataFrame, smoothing: float, end: dt.date, item_fields: Sequence[str] = ()
) -> DataFrame:
    """Per (item_id, dt): windows, rates, recency, price, category and popularity rank.

    Popularity ranks every item with history by clicks over 7 days (then impressions,
    then id), 1 the most clicked; `item_pop_pct` is 0 for the first and 1 for the last.
    """
    popular_first = Window.partitionBy(S.DT).orderBy(
        F.col("clicks_7d").desc(), F.col("impressions_7d").desc(), F.col(S.ITEM_ID)
    )
    ranked = popular_first.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (
        state.withColumns({"item_pop_rank": F.row_number().over(ranked), "item_pop_pct": F.percent_rank().over(ranked)})
        .where(_kept(end))
        .join(F.broadcast(priors), on=S.DT, how="left")
        .select(
            S.ITEM_ID,
            S.DT,
            *_renamed_counts("item", WINDOWS),
            *_rates_and_recency("item", smoothing),
            S.PRICE,
            S.CATEGORY_ID,
            *item_fields,
            "item_pop_rank",
            "item_pop_pct",
        )
    )
