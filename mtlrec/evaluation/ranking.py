"""Top-K ranking metrics of recommendation lists against what users then bought.

`lists`: (strategy, user_id, rank, item_id) with ranks 1..K; `bought`: distinct
(user_id, item_id) of the evaluation period. Every user who bought something counts,
with or without a list (no list: no hits). Per strategy, averaged over those users:

- precision@K = hits / K, recall@K = hits / items bought, hit rate = [hits > 0];
- NDCG@K = sum over hits of 1 / log2(rank + 1), over the same for a perfect list
  (min(items bought, K) hits at the top).

Coverage is the share of the catalogue appearing in any list of the strategy. Only
one row per strategy reaches the driver.
"""

from __future__ import annotations

import datetime as dt
import math

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S

METRICS = ("precision", "recall", "ndcg", "hit_rate", "coverage")


def purchases(events: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """Distinct (user_id, item_id) bought from `first` to `last`: what the lists are checked against."""
    return (
        events.where((F.col(S.DT) >= F.lit(first)) & (F.col(S.DT) <= F.lit(last)))
        .where(F.col(S.EVENT_TYPE) == F.lit(S.PURCHASE))
        .select(S.USER_ID, S.ITEM_ID)
        .distinct()
    )


def ideal_dcg(k: int) -> list[float]:
    """DCG of a perfect list with 1..k relevant items at the top (index n - 1 for n items)."""
    out, total = [], 0.0
    for rank in range(1, k + 1):
        total += 1.0 / math.log2(rank + 1)
        out.append(total)
    return out


def ranking_metrics(lists: DataFrame, bought: DataFrame, *, k: int, catalogue_size: int) -> dict[str, dict[str, float]]:
    """strategy -> {precision, recall, ndcg, hit_rate, coverage, users} at `k`."""
    lists = lists.where(F.col(S.RANK) <= k)
    strategies = lists.select(S.STRATEGY).distinct()
    per_buyer = bought.groupBy(S.USER_ID).agg(F.count(F.lit(1)).alias("bought"))
    hits = (
        lists.join(bought, on=[S.USER_ID, S.ITEM_ID])
        .groupBy(S.STRATEGY, S.USER_ID)
        .agg(F.count(F.lit(1)).alias("hits"), F.sum(F.lit(1.0) / F.log2(F.col(S.RANK) + F.lit(1))).alias("dcg"))
    )
    ideal = F.array(*[F.lit(v) for v in ideal_dcg(k)])
    users = (
        strategies.crossJoin(per_buyer)
        .join(hits, on=[S.STRATEGY, S.USER_ID], how="left")
        .fillna({"hits": 0, "dcg": 0.0})
        .withColumn("idcg", F.element_at(ideal, F.least(F.col("bought"), F.lit(k)).cast("int")))
    )
    quality = users.groupBy(S.STRATEGY).agg(
        F.avg(F.col("hits") / F.lit(float(k))).alias("precision"),
        F.avg(F.col("hits") / F.col("bought")).alias("recall"),
        F.avg(F.col("dcg") / F.col("idcg")).alias("ndcg"),
        F.avg((F.col("hits") > 0).cast("double")).alias("hit_rate"),
        F.count(F.lit(1)).alias("users"),
    )
    coverage = lists.groupBy(S.STRATEGY).agg(
        (F.count_distinct(S.ITEM_ID) / F.lit(float(catalogue_size))).alias("coverage")
    )
    rows = quality.join(coverage, on=S.STRATEGY, how="left").collect()  # one row per strategy
    return {r[S.STRATEGY]: {**{m: float(r[m] or 0.0) for m in METRICS}, "users": int(r["users"])} for r in rows}


def threshold_metrics(df: DataFrame, *, label: str, prob: str, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of predicting `prob >= threshold` as positive."""
    predicted, actual = F.col(prob) >= F.lit(threshold), F.col(label) > F.lit(0.5)
    row = df.agg(
        F.count_if(predicted & actual).alias("tp"),
        F.count_if(predicted & ~actual).alias("fp"),
        F.count_if(~predicted & actual).alias("fn"),
    ).first()
    assert row is not None
    tp, fp, fn = float(row["tp"]), float(row["fp"]), float(row["fn"])
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"threshold": threshold, "precision": precision, "recall": recall, "f1": f1}
