"""Item leaderboards of one day: expected purchases overall and per category, and trending.

Expected purchases of an item are the sum of p_ctcvr over every user it was scored
for (its candidates' users), i.e. how many purchases the model expects if each of
those users were shown it once. Trending compares an item's clicks in the last
`days` days with the `days` before: growth = (recent + 1) / (previous + 1).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.serving.inference import prob_column

EXPECTED, IN_CATEGORY, TRENDING = "expected_purchases", "category_expected_purchases", "trending"
COLUMNS = (S.BOARD, S.RANK, S.ITEM_ID, S.CATEGORY_ID, S.VALUE)


def _top(df: DataFrame, *, board: str, n: int, partition: tuple[str, ...] = ()) -> DataFrame:
    order = (F.col(S.VALUE).desc(), F.col(S.ITEM_ID))
    if not partition:  # one board: the n best first (a top-n, not a sort of every item), then ranked
        df, partition = df.orderBy(*order).limit(n).withColumn("board_key", F.lit(0)), ("board_key",)
    window = Window.partitionBy(*partition).orderBy(*order)
    return (
        df.withColumn(S.RANK, F.row_number().over(window))
        .where(F.col(S.RANK) <= n)
        .withColumn(S.BOARD, F.lit(board))
        .select(*COLUMNS)
    )


def expected_purchases(scored: DataFrame, *, n: int) -> DataFrame:
    """Top `n` items by expected purchases overall, and top `n` within each category."""
    per_item = scored.groupBy(S.ITEM_ID, S.CATEGORY_ID).agg(F.sum(prob_column("ctcvr")).alias(S.VALUE))
    overall = _top(per_item, board=EXPECTED, n=n)
    in_category = _top(
        per_item.where(F.col(S.CATEGORY_ID).isNotNull()), board=IN_CATEGORY, n=n, partition=(S.CATEGORY_ID,)
    )
    return overall.unionByName(in_category)


def trending(item_daily: DataFrame, *, day: dt.date, days: int, n: int) -> DataFrame:
    """Top `n` items by click growth: the `days` days before `day` against the `days` before those."""
    start, split = day - dt.timedelta(days=2 * days), day - dt.timedelta(days=days)
    window = item_daily.where((F.col(S.DT) >= F.lit(start)) & (F.col(S.DT) < F.lit(day)))
    recent = F.when(F.col(S.DT) >= F.lit(split), F.col("clicks")).otherwise(F.lit(0))
    previous = F.when(F.col(S.DT) < F.lit(split), F.col("clicks")).otherwise(F.lit(0))
    counts = window.groupBy(S.ITEM_ID).agg(
        F.sum(recent).alias("recent"), F.sum(previous).alias("previous"), F.max(S.CATEGORY_ID).alias(S.CATEGORY_ID)
    )
    growth = (F.col("recent") + F.lit(1.0)) / (F.col("previous") + F.lit(1.0))
    return _top(counts.where(F.col("recent") > 0).withColumn(S.VALUE, growth), board=TRENDING, n=n)
