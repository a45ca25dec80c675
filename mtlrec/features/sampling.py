"""Seeded sampling: negatives for logs without impressions, and negative down-sampling.

Every draw is a hash of the row's ids and the seed (`uniform`), so the result is the
same whatever the partitioning, the executors or a re-run.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.features.labels import EXPOSURE_COLUMNS
from mtlrec.layout import COUNT_KINDS

_MANTISSA = (1 << 53) - 1
BUCKETS = 1 << 14  # draws meet items through this many equal slices of [0, 1)
LO, HI = "lo", "hi"  # an item's slice of its day's cumulative popularity
FIRST_DT = "first_dt"


def uniform(seed: int, salt: str, *cols: Column) -> Column:
    """A deterministic uniform draw in (0, 1) for each row, keyed by `cols`."""
    h = F.xxhash64(F.lit(seed), F.lit(salt), *cols).bitwiseAND(F.lit(_MANTISSA))
    return (h.cast("double") + F.lit(0.5)) / F.lit(float(_MANTISSA + 1))


def popularity(item_days: DataFrame) -> DataFrame:
    """Per (dt, item_id): its slice [lo, hi) of [0, 1), as wide as its share of the day's events."""
    weight = sum((F.col(k) for k in COUNT_KINDS), F.lit(0))
    by_id = Window.partitionBy(S.DT).orderBy(S.ITEM_ID)
    upto = by_id.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    whole_day = Window.partitionBy(S.DT).rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    weighted = item_days.withColumn("weight", weight.cast("double")).where(F.col("weight") > F.lit(0.0))
    cumulative = weighted.withColumns({"upto": F.sum("weight").over(upto), "total": F.sum("weight").over(whole_day)})
    return cumulative.select(
        S.DT,
        S.ITEM_ID,
        S.CATEGORY_ID,
        S.PRICE,
        ((F.col("upto") - F.col("weight")) / F.col("total")).alias(LO),
        (F.col("upto") / F.col("total")).alias(HI),
    )


def first_interactions(events: DataFrame) -> DataFrame:
    """Per (user_id, item_id): the first day the user did anything with the item."""
    return events.groupBy(S.USER_ID, S.ITEM_ID).agg(F.min(S.DT).alias(FIRST_DT))


def negatives(positives: DataFrame, *, items: DataFrame, interactions: DataFrame, ratio: int, seed: int) -> DataFrame:
    """Up to `ratio` made-up exposures per positive, marked `sampled`.

    Items are drawn by their popularity on the positive's day (`popularity`); an item
    the user touched on that day or before is dropped, as is a repeat of an item
    already drawn for the same positive. The exposure copies the positive's time.
    """
    u = F.col("u")
    draws = positives.select(
        F.col(S.EVENT_ID).alias("source"),
        S.TS,
        S.USER_ID,
        S.DT,
        F.explode(F.sequence(F.lit(0), F.lit(ratio - 1))).alias("k"),
    ).withColumn("u", uniform(seed, "negative", F.col("source"), F.col("k")))
    first = F.floor(F.col(LO) * F.lit(BUCKETS))
    last = F.least(F.ceil(F.col(HI) * F.lit(BUCKETS)) - F.lit(1), F.lit(BUCKETS - 1))
    slices = items.withColumn("bucket", F.explode(F.sequence(first, F.greatest(first, last))))
    picked = draws.withColumn("bucket", F.floor(u * F.lit(BUCKETS))).join(slices, on=[S.DT, "bucket"], how="inner")
    picked = picked.where((u >= F.col(LO)) & (u < F.col(HI)))
    untouched = picked.join(interactions, on=[S.USER_ID, S.ITEM_ID], how="left").where(
        F.col(FIRST_DT).isNull() | (F.col(FIRST_DT) > F.col(S.DT))
    )
    # an item drawn twice for one positive is one exposure: the id names both
    return untouched.select(
        F.concat_ws("#neg:", F.col("source"), F.col(S.ITEM_ID)).alias(S.EVENT_ID),
        *EXPOSURE_COLUMNS[1:-1],
        F.lit(True).alias(S.SAMPLED),
    ).distinct()


def down_sampled(samples: DataFrame, *, keep_rate: float, seed: int) -> DataFrame:
    """Keep each non-clicked train exposure with chance `keep_rate`; store it and 1 / it.

    Valid and test keep every row, so their metrics need no correction; training
    weights a kept negative by `weight`, and a model's probability p on down-sampled
    data corrects to q = p / (p + (1 - p) / keep_rate).
    """
    negative = (F.col(S.SPLIT) == F.lit(S.TRAIN)) & (F.coalesce(F.col(S.CLICK), F.lit(0.0)) < F.lit(1.0))
    rate = F.when(negative, F.lit(keep_rate)).otherwise(F.lit(1.0))
    kept = samples.withColumn(S.KEEP_RATE, rate.cast("float")).where(
        uniform(seed, "keep", F.col(S.EVENT_ID)) < F.col(S.KEEP_RATE)
    )
    others = [c for c in samples.columns if c not in (S.KEEP_RATE, S.WEIGHT)]
    return kept.select(*others, S.KEEP_RATE, (F.lit(1.0) / F.col(S.KEEP_RATE)).cast("float").alias(S.WEIGHT))
