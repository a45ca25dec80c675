"""Samples: labelled exposures joined with the point-in-time features of their day.

A sample of day d joins the feature rows keyed d, which sum only days before d. The
user side carries the user's click sequence, so very active users make hot keys in two
joins only, the user and the user x category one; those keys are salted. Items are
broadcast when their rows fit. Ids become vocabulary indexes and raw values model
inputs in `finished`, through `layout.model_inputs`, as the serving path builds them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.features.history import CLICK_ITEMS
from mtlrec.features.labels import LABELLED_COLUMNS
from mtlrec.layout import CLICK_SEQUENCE, CROSS_DENSE, ITEM_DENSE, OOV, USER_DENSE, FeatureLayout, model_inputs

SALT, HOT = "salt", "hot"
KEYS = (S.EVENT_ID, S.DT, S.TS, S.USER_ID, S.ITEM_ID, S.CATEGORY_ID, S.SPLIT, S.SAMPLED, S.LABEL_OPEN)
WEIGHTS = (S.KEEP_RATE, S.WEIGHT)


def salted_left_join(
    left: DataFrame, right: DataFrame, *, on: Sequence[str], row_key: str, buckets: int, hot_rows: int
) -> DataFrame:
    """`left` left-joined with `right` (unique on `on`), hot keys spread over `buckets` tasks.

    A key with at least `hot_rows` rows in `left` is hot: its left rows get a salt
    hashed from `row_key` and its right row is copied once per salt, so no single
    task joins all of a very active user's rows. Other keys join as usual.
    """
    keys = list(on)
    out_cols = [*left.columns, *[c for c in right.columns if c not in keys]]
    if buckets <= 1:
        return left.join(right, on=keys, how="left").select(*out_cols)
    hot = (
        left.groupBy(*keys)
        .agg(F.count(F.lit(1)).alias("rows"))
        .where(F.col("rows") >= F.lit(hot_rows))
        .select(*keys, F.lit(True).alias(HOT))
    )
    is_hot = F.coalesce(F.col(HOT), F.lit(False))
    salted = left.join(F.broadcast(hot), on=keys, how="left").withColumn(
        SALT, F.when(is_hot, F.pmod(F.xxhash64(F.col(row_key)), F.lit(buckets))).otherwise(F.lit(0))
    )
    copies = F.when(is_hot, F.sequence(F.lit(0), F.lit(buckets - 1))).otherwise(F.array(F.lit(0)))
    copied = right.join(F.broadcast(hot), on=keys, how="left").withColumn(SALT, F.explode(copies))
    return salted.drop(HOT).join(copied.drop(HOT), on=[*keys, SALT], how="left").select(*out_cols)


def _padded(indexes: Column, length: int) -> Column:
    filled = F.coalesce(indexes, F.array().cast("array<long>"))
    return F.concat(filled, F.array_repeat(F.lit(OOV).cast("long"), F.lit(length) - F.size(filled)))


def user_side(users: DataFrame, *, item_index: DataFrame, sequence_length: int) -> DataFrame:
    """User feature rows with the click sequence as item indexes (`layout.index_mapping`)."""
    clicked = users.select(S.USER_ID, S.DT, F.posexplode(CLICK_ITEMS).alias("pos", S.ITEM_ID))
    item_idx = [c for c in item_index.columns if c != S.ITEM_ID][0]
    entry = F.struct(F.col("pos"), F.coalesce(F.col(item_idx), F.lit(OOV)).cast("long").alias("idx"))
    sequences = (
        clicked.join(F.broadcast(item_index), on=S.ITEM_ID, how="left")
        .groupBy(S.USER_ID, S.DT)
        .agg(F.sort_array(F.collect_list(entry)).alias("entries"))
        .select(S.USER_ID, S.DT, F.transform(F.col("entries"), lambda e: e["idx"]).alias(CLICK_SEQUENCE))
    )
    return users.join(sequences, on=[S.USER_ID, S.DT], how="left").select(
        S.USER_ID,
        S.DT,
        *USER_DENSE,
        _padded(F.col(CLICK_SEQUENCE), sequence_length).alias(CLICK_SEQUENCE),
    )


def split_by_date(*, valid_start: dt.date, test_start: dt.date) -> Column:
    return (
        F.when(F.col(S.DT) < F.lit(valid_start), F.lit(S.TRAIN))
        .when(F.col(S.DT) < F.lit(test_start), F.lit(S.VALID))
        .otherwise(F.lit(S.TEST))
    )


def joined(
    labelled: DataFrame,
    *,
    users: DataFrame,
    cross: DataFrame,
    items: DataFrame,
    broadcast_items: bool,
    salt_buckets: int,
    hot_rows: int,
    context: Sequence[str] = (),
) -> DataFrame:
    """Labelled exposures with every raw feature and `split`-free keys.

    `users` is `user_side`. The exposure's own price and category are kept: they are
    what the user saw; so are its `context` columns.
    """
    item_cols = items.select(S.ITEM_ID, S.DT, *[c for c in ITEM_DENSE if c in items.columns])
    with_users = salted_left_join(
        labelled, users, on=[S.USER_ID, S.DT], row_key=S.EVENT_ID, buckets=salt_buckets, hot_rows=hot_rows
    )
    with_cross = salted_left_join(
        with_users,
        cross.select(S.USER_ID, S.CATEGORY_ID, S.DT, *CROSS_DENSE),
        on=[S.USER_ID, S.CATEGORY_ID, S.DT],
        row_key=S.EVENT_ID,
        buckets=salt_buckets,
        hot_rows=hot_rows,
    )
    out = with_cross.join(F.broadcast(item_cols) if broadcast_items else item_cols, on=[S.ITEM_ID, S.DT], how="left")
    user_extra = [c for c in users.columns if c not in (S.USER_ID, S.DT, *USER_DENSE)]
    return out.select(
        *LABELLED_COLUMNS,
        *context,
        *user_extra,
        *USER_DENSE,
        *[c for c in ITEM_DENSE if c in item_cols.columns],
        *CROSS_DENSE,
    )


def with_split(df: DataFrame, *, valid_start: dt.date, test_start: dt.date) -> DataFrame:
    return df.select("*", split_by_date(valid_start=valid_start, test_start=test_start).alias(S.SPLIT))


def finished(
    raw: DataFrame, *, layout: FeatureLayout, vocabulary: DataFrame, stats: Mapping[str, tuple[float, float]]
) -> DataFrame:
    """The `samples` rows: keys, labels, weights, indexes, standardised dense inputs, sequence."""
    return model_inputs(raw, layout=layout, vocabulary=vocabulary, stats=stats).select(
        *KEYS,
        *S.LABELS,
        *WEIGHTS,
        *layout.sparse_columns,
        *layout.dense,
        CLICK_SEQUENCE,
    )
