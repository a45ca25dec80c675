"""Pure transforms of the features stage: events -> point-in-time features and samples.

A feature row keyed by (id, dt) describes the id as it was at the start of day `dt`:
it sums only the days strictly before `dt`. Samples of day `dt` join those rows, so a
sample never sees its own day or later, and scoring reads the row of the day after
the last event, which sums all history.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.layout import ITEM_DENSE, USER_DENSE, FeatureLayout, with_sparse_indices

IMPRESSIONS, CLICKS, PURCHASES = "impressions", "clicks", "purchases"
COUNTS = (IMPRESSIONS, CLICKS, PURCHASES)
_IS = {IMPRESSIONS: S.IMPRESSION, CLICKS: S.CLICK, PURCHASES: S.PURCHASE}


def daily_counts(events: DataFrame, *, key: str) -> DataFrame:
    """Impressions, clicks and purchases per (`key`, dt), with the last price and category."""
    is_type = {name: F.col(S.EVENT_TYPE) == F.lit(kind) for name, kind in _IS.items()}
    return events.groupBy(key, S.DT).agg(
        *[F.count_if(cond).alias(name) for name, cond in is_type.items()],
        F.max_by(S.PRICE, S.TS).alias(S.PRICE),
        F.max_by(S.CATEGORY_ID, S.TS).alias(S.CATEGORY_ID),
    )


def history(daily: DataFrame, *, key: str, end: dt.date) -> DataFrame:
    """Totals per (`key`, dt) over the days strictly before dt.

    One row per day the id was active, plus one at `end` (the day after the data) for
    every id, which is the state scoring uses.
    """
    ids = daily.select(key).distinct()
    final = ids.select(
        key,
        F.lit(end).alias(S.DT),
        *[F.lit(0).cast("long").alias(c) for c in COUNTS],
        F.lit(None).cast("double").alias(S.PRICE),
        F.lit(None).cast("string").alias(S.CATEGORY_ID),
    )
    before = Window.partitionBy(key).orderBy(S.DT).rowsBetween(Window.unboundedPreceding, -1)
    return (
        daily.select(key, S.DT, *COUNTS, S.PRICE, S.CATEGORY_ID)
        .unionByName(final)
        .select(
            key,
            S.DT,
            *[F.coalesce(F.sum(c).over(before), F.lit(0)).cast("long").alias(c) for c in COUNTS],
            F.last(S.PRICE, ignorenulls=True).over(before).alias(S.PRICE),
            F.last(S.CATEGORY_ID, ignorenulls=True).over(before).alias(S.CATEGORY_ID),
        )
    )


def population_rates(events: DataFrame) -> DataFrame:
    """One row: the population CTR and purchase-per-click rate, the smoothing priors."""
    is_type = {name: F.col(S.EVENT_TYPE) == F.lit(kind) for name, kind in _IS.items()}
    imps, clicks, buys = (F.count_if(is_type[c]) for c in COUNTS)
    return events.agg(
        (clicks / F.greatest(imps, F.lit(1))).alias("prior_ctr"),
        (buys / F.greatest(clicks, F.lit(1))).alias("prior_cvr"),
    )


def _rates(prefix: str, smoothing: float) -> list[Column]:
    """Log counts and smoothed CTR/CVR, named `<prefix>_*` as the layout expects."""
    a = F.lit(smoothing)
    return [
        F.log1p(F.col(IMPRESSIONS)).alias(f"{prefix}_log_impressions"),
        F.log1p(F.col(CLICKS)).alias(f"{prefix}_log_clicks"),
        F.log1p(F.col(PURCHASES)).alias(f"{prefix}_log_purchases"),
        ((F.col(CLICKS) + a * F.col("prior_ctr")) / (F.col(IMPRESSIONS) + a)).alias(f"{prefix}_ctr"),
        ((F.col(PURCHASES) + a * F.col("prior_cvr")) / (F.col(CLICKS) + a)).alias(f"{prefix}_cvr"),
    ]


def user_features(hist: DataFrame, *, priors: DataFrame, smoothing: float) -> DataFrame:
    """User dense features per (user_id, dt), point-in-time as `history` is."""
    return hist.crossJoin(F.broadcast(priors)).select(S.USER_ID, S.DT, *_rates("user", smoothing))


def item_features(hist: DataFrame, *, priors: DataFrame, smoothing: float) -> DataFrame:
    """Item dense features per (item_id, dt), with the last known price and category."""
    return hist.crossJoin(F.broadcast(priors)).select(
        S.ITEM_ID,
        S.DT,
        S.CATEGORY_ID,
        S.PRICE,
        *_rates("item", smoothing),
        F.log1p(F.coalesce(F.col(S.PRICE), F.lit(0.0))).alias("item_log_price"),
    )


def labelled_impressions(events: DataFrame, *, click_minutes: int, purchase_hours: int) -> DataFrame:
    """One row per impression with `click` and `purchase` labels.

    An impression is clicked (bought) if the same user clicks (buys) the same item
    within the window after it; the purchase label is over all exposures, as ESMM.
    """
    imps = events.where(F.col(S.EVENT_TYPE) == F.lit(S.IMPRESSION)).alias("imp")
    acts = events.where(F.col(S.EVENT_TYPE).isin(S.CLICK, S.PURCHASE)).select(
        S.USER_ID, S.ITEM_ID, F.col(S.TS).alias("act_ts"), F.col(S.EVENT_TYPE).alias("act_type")
    )
    after = F.col("act_ts") >= F.col(f"imp.{S.TS}")
    within = {
        S.CLICK: F.col("act_ts") <= F.col(f"imp.{S.TS}") + F.expr(f"INTERVAL {click_minutes} MINUTES"),
        S.PURCHASE: F.col("act_ts") <= F.col(f"imp.{S.TS}") + F.expr(f"INTERVAL {purchase_hours} HOURS"),
    }
    joined = imps.join(acts, on=[S.USER_ID, S.ITEM_ID], how="left")
    label = {
        task: F.max((after & within[task] & (F.col("act_type") == F.lit(task))).cast("int"))
        for task in (S.CLICK, S.PURCHASE)
    }
    return joined.groupBy(S.EVENT_ID, S.TS, S.USER_ID, S.ITEM_ID, S.CATEGORY_ID, S.PRICE, S.DT).agg(
        *[F.coalesce(expr, F.lit(0)).cast("float").alias(task) for task, expr in label.items()]
    )


def split_by_date(*, valid_start: dt.date, test_start: dt.date) -> Column:
    return (
        F.when(F.col(S.DT) < F.lit(valid_start), F.lit(S.TRAIN))
        .when(F.col(S.DT) < F.lit(test_start), F.lit(S.VALID))
        .otherwise(F.lit(S.TEST))
    )


def samples(
    labelled: DataFrame,
    *,
    users: DataFrame,
    items: DataFrame,
    layout: FeatureLayout,
    valid_start: dt.date,
    test_start: dt.date,
) -> DataFrame:
    """Training samples: labels, point-in-time features, hashed ids and the split.

    The item's price and category are the ones shown on the impression itself.
    """
    item_hist = items.drop(S.CATEGORY_ID, S.PRICE, "item_log_price")
    joined = (
        labelled.join(users, on=[S.USER_ID, S.DT], how="left")
        .join(item_hist, on=[S.ITEM_ID, S.DT], how="left")
        .withColumn("item_log_price", F.log1p(F.coalesce(F.col(S.PRICE), F.lit(0.0))))
        .fillna(0.0, subset=list(USER_DENSE + ITEM_DENSE))
        .withColumn(S.SPLIT, split_by_date(valid_start=valid_start, test_start=test_start))
    )
    return with_sparse_indices(joined, layout=layout).select(
        S.EVENT_ID,
        S.DT,
        S.TS,
        S.USER_ID,
        S.ITEM_ID,
        S.CATEGORY_ID,
        S.SPLIT,
        *[F.col(c).cast("float").alias(c) for c in (S.CLICK, S.PURCHASE)],
        *layout.sparse_columns,
        *[F.col(c).cast("float").alias(c) for c in layout.dense],
    )
