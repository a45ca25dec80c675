"""Which items are scored for which user: (user_id, item_id) pairs, as of one day.

The whole catalogue when it is small; otherwise the union of globally popular items,
the popular items of each of the user's top categories, and the items the user
clicked recently without buying. Items the user already bought are dropped.
`users` and `items` are the feature tables' rows of the day; `events` is read only
strictly before it.
"""

from __future__ import annotations

import datetime as dt
import re

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.serving.config import ScoreConfig
from mtlrec.serving.pairs import CLICKS_30D

PAIR = (S.USER_ID, S.ITEM_ID)
_TOP_CATEGORY = re.compile(r"user_top(\d+)_category")


def _most_clicked_first() -> tuple[Column, Column]:
    return F.coalesce(F.col(CLICKS_30D), F.lit(0.0)).desc(), F.col(S.ITEM_ID)


def catalogue(users: DataFrame, items: DataFrame) -> DataFrame:
    """Every item for every user."""
    return users.select(S.USER_ID).crossJoin(F.broadcast(items.select(S.ITEM_ID)))


def popular(users: DataFrame, items: DataFrame, *, n: int) -> DataFrame:
    """The `n` items clicked most in the last 30 days (ties by id), for every user."""
    best = items.orderBy(*_most_clicked_first()).limit(n).select(S.ITEM_ID)
    return users.select(S.USER_ID).crossJoin(F.broadcast(best))


def top_categories(users: DataFrame, *, n: int) -> DataFrame:
    """(user_id, category_id) for the user's `n` most clicked categories (the features' top-k)."""
    ranked = sorted(
        (int(m.group(1)), c) for c in users.columns if (m := _TOP_CATEGORY.fullmatch(c)) and int(m.group(1)) <= n
    )
    if not ranked:
        return users.select(S.USER_ID, F.lit(None).cast("string").alias(S.CATEGORY_ID)).limit(0)
    stacked = F.explode(F.array(*[F.col(c) for _, c in ranked])).alias(S.CATEGORY_ID)
    return users.select(S.USER_ID, stacked).where(F.col(S.CATEGORY_ID).isNotNull()).distinct()


def category_popular(users: DataFrame, items: DataFrame, *, per_category: int, categories: int) -> DataFrame:
    """The `per_category` most clicked items of each of the user's top `categories`."""
    rank = F.row_number().over(Window.partitionBy(S.CATEGORY_ID).orderBy(*_most_clicked_first()))
    best = items.where(F.col(S.CATEGORY_ID).isNotNull()).withColumn("r", rank).where(F.col("r") <= per_category)
    return (
        top_categories(users, n=categories)
        .join(F.broadcast(best.select(S.CATEGORY_ID, S.ITEM_ID)), on=S.CATEGORY_ID)
        .select(*PAIR)
    )


def before(events: DataFrame, day: dt.date, days: int | None = None) -> DataFrame:
    """Events strictly before `day` (and, with `days`, not before `day - days`)."""
    kept = events.where(F.col(S.DT) < F.lit(day))
    return kept if days is None else kept.where(F.col(S.DT) >= F.lit(day - dt.timedelta(days=days)))


def purchased(events: DataFrame, day: dt.date) -> DataFrame:
    """(user, item) bought at any time before `day`."""
    return before(events, day).where(F.col(S.EVENT_TYPE) == F.lit(S.PURCHASE)).select(*PAIR).distinct()


def viewed_not_bought(events: DataFrame, day: dt.date, *, days: int) -> DataFrame:
    """(user, item) clicked in the `days` days before `day` and not bought in them."""
    recent = before(events, day, days)
    clicked = recent.where(F.col(S.EVENT_TYPE) == F.lit(S.CLICK)).select(*PAIR)
    bought = recent.where(F.col(S.EVENT_TYPE) == F.lit(S.PURCHASE)).select(*PAIR)
    return clicked.join(bought, on=list(PAIR), how="left_anti").distinct()


def candidate_pairs(
    users: DataFrame, items: DataFrame, events: DataFrame, *, day: dt.date, sc: ScoreConfig, catalogue_size: int
) -> DataFrame:
    """Distinct (user_id, item_id) to score for every user of `users` on `day`."""
    if catalogue_size <= sc.catalogue_max:
        pairs = catalogue(users, items)
    else:
        pairs = popular(users, items, n=sc.popular).unionByName(
            category_popular(users, items, per_category=sc.category_popular, categories=sc.top_categories)
        )
        if sc.viewed_days > 0:
            viewed = viewed_not_bought(events, day, days=sc.viewed_days)
            known = viewed.join(users.select(S.USER_ID), on=S.USER_ID).join(
                F.broadcast(items.select(S.ITEM_ID)), on=S.ITEM_ID
            )
            pairs = pairs.unionByName(known.select(*PAIR))
    if sc.exclude_purchased:
        pairs = pairs.join(purchased(events, day), on=list(PAIR), how="left_anti")
    return pairs.select(*PAIR).distinct()
