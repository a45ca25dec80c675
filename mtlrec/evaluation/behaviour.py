"""Behaviour analysis of `events` for the business report: funnel, cohorts, category trends.

Pure transforms: each output is a small aggregate (one row per day, category, or
cohort and week), written to its own Delta table; only these reach the driver.
A log without impressions (the Taobao mapping has none) gives null impression rates:
a rate is null wherever its denominator is 0, never an error or an infinity.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S

COUNTS = ((S.IMPRESSION, S.IMPRESSIONS), (S.CLICK, S.CLICKS), (S.CART, S.CARTS), (S.PURCHASE, S.PURCHASES))
TREND_DAYS = 7


def _rate(numerator: str, denominator: str) -> Column:
    return F.when(F.col(denominator) > F.lit(0), F.col(numerator) / F.col(denominator))


def _funnel(events: DataFrame, key: str) -> DataFrame:
    counts = [F.count_if(F.col(S.EVENT_TYPE) == F.lit(kind)).alias(name) for kind, name in COUNTS]
    return (
        events.groupBy(key)
        .agg(*counts)
        .select(
            key,
            S.IMPRESSIONS,
            S.CLICKS,
            S.CARTS,
            S.PURCHASES,
            _rate(S.CLICKS, S.IMPRESSIONS).alias(S.CTR),
            _rate(S.CARTS, S.CLICKS).alias(S.CART_RATE),
            _rate(S.PURCHASES, S.CLICKS).alias(S.CVR),
            _rate(S.PURCHASES, S.IMPRESSIONS).alias(S.PURCHASE_RATE),
        )
    )


def funnel_daily(events: DataFrame) -> DataFrame:
    """Per event day: impressions, clicks, carts, purchases, CTR, cart/click, CVR, purchase/impression."""
    return _funnel(events, S.DT)


def funnel_by_category(events: DataFrame) -> DataFrame:
    """The funnel of `funnel_daily` per category over the whole log (a null category is its own row)."""
    return _funnel(events, S.CATEGORY_ID)


def _monday(day: Column) -> Column:
    # dayofweek: Sunday 1 .. Saturday 7, so (dayofweek + 5) % 7 days back is Monday
    return F.date_sub(day, (F.dayofweek(day) + F.lit(5)) % F.lit(7))


def _weeks_between(later: Column, earlier: Column) -> Column:
    return (F.datediff(later, earlier) / F.lit(7)).cast("int")


def cohorts(events: DataFrame) -> DataFrame:
    """Weekly cohorts of new users: per cohort and week offset, the share active and the share buying.

    A user's cohort is the Monday of the week of their first event in the log (users
    active before the log began look new in its first week). Active means any event,
    impressions included. Every offset from 0 to the log's last week has a row, with
    zeros when nobody of the cohort came back.
    """
    week = "week"
    user_weeks = events.groupBy(S.USER_ID, _monday(F.col(S.DT)).alias(week)).agg(
        F.bool_or(F.col(S.EVENT_TYPE) == F.lit(S.PURCHASE)).alias("bought")
    )
    first = user_weeks.groupBy(S.USER_ID).agg(F.min(week).alias(S.COHORT_WEEK))
    last_week = user_weeks.agg(F.max(week).alias("last_week"))
    grid = (
        first.groupBy(S.COHORT_WEEK)
        .agg(F.count(F.lit(1)).alias(S.COHORT_SIZE))
        .crossJoin(last_week)
        .select(
            S.COHORT_WEEK,
            S.COHORT_SIZE,
            F.explode(F.sequence(F.lit(0), _weeks_between(F.col("last_week"), F.col(S.COHORT_WEEK)))).alias(
                S.WEEK_OFFSET
            ),
        )
    )
    activity = (
        user_weeks.join(first, on=S.USER_ID, how="inner")
        .groupBy(S.COHORT_WEEK, _weeks_between(F.col(week), F.col(S.COHORT_WEEK)).alias(S.WEEK_OFFSET))
        .agg(F.count(F.lit(1)).alias(S.ACTIVE_USERS), F.count_if("bought").alias(S.BUYERS))
    )
    return (
        grid.join(activity, on=[S.COHORT_WEEK, S.WEEK_OFFSET], how="left")
        .fillna(0, subset=[S.ACTIVE_USERS, S.BUYERS])
        .select(
            S.COHORT_WEEK,
            S.WEEK_OFFSET,
            S.COHORT_SIZE,
            S.ACTIVE_USERS,
            S.BUYERS,
            (F.col(S.ACTIVE_USERS) / F.col(S.COHORT_SIZE)).alias(S.RETURN_RATE),
            (F.col(S.BUYERS) / F.col(S.COHORT_SIZE)).alias(S.PURCHASE_SHARE),
        )
    )


def category_trends(events: DataFrame, *, days: int = TREND_DAYS) -> DataFrame:
    """Per category, clicks and purchases of the last N days against the N days before.

    N is `days`, or half the log's span (rounded down, at least 1) when the log is
    shorter than 2 * `days`: both windows are then equally long, and a log of 7 days
    compares its last 3 days with the 3 before (its first day is left out). Growth is
    (recent + 1) / (previous + 1), as the `trending` leaderboard has it. Categories with
    no click or purchase in either window have no row.
    """
    span = F.datediff(F.col("last"), F.col("first")) + F.lit(1)
    bounds = events.agg(F.min(S.DT).alias("first"), F.max(S.DT).alias("last")).select(
        "last", F.greatest(F.least(F.lit(days), F.floor(span / F.lit(2))), F.lit(1)).cast("int").alias(S.WINDOW_DAYS)
    )
    recent_start = F.date_sub(F.col("last"), F.col(S.WINDOW_DAYS) - F.lit(1))
    previous_start = F.date_sub(recent_start, F.col(S.WINDOW_DAYS))
    in_recent = F.col(S.DT) >= recent_start
    in_previous = (F.col(S.DT) >= previous_start) & (F.col(S.DT) < recent_start)
    is_click = F.col(S.EVENT_TYPE) == F.lit(S.CLICK)
    is_purchase = F.col(S.EVENT_TYPE) == F.lit(S.PURCHASE)
    counted = (
        events.where(is_click | is_purchase)
        .crossJoin(F.broadcast(bounds))
        .where(in_recent | in_previous)
        .groupBy(S.CATEGORY_ID, S.WINDOW_DAYS)
        .agg(
            F.count_if(in_recent & is_click).alias(S.RECENT_CLICKS),
            F.count_if(in_previous & is_click).alias(S.PREVIOUS_CLICKS),
            F.count_if(in_recent & is_purchase).alias(S.RECENT_PURCHASES),
            F.count_if(in_previous & is_purchase).alias(S.PREVIOUS_PURCHASES),
        )
    )

    def growth(recent: str, previous: str) -> Column:
        return (F.col(recent) + F.lit(1)) / (F.col(previous) + F.lit(1))

    return counted.select(
        S.CATEGORY_ID,
        S.WINDOW_DAYS,
        S.RECENT_CLICKS,
        S.PREVIOUS_CLICKS,
        growth(S.RECENT_CLICKS, S.PREVIOUS_CLICKS).alias(S.CLICK_GROWTH),
        S.RECENT_PURCHASES,
        S.PREVIOUS_PURCHASES,
        growth(S.RECENT_PURCHASES, S.PREVIOUS_PURCHASES).alias(S.PURCHASE_GROWTH),
    )
