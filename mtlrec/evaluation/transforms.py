"""Pure transforms of the evaluation stage: predictions -> fixed-size metric tables.

AUC over millions of rows without collecting them: Spark counts positives and
negatives per fine score bin, and only that table (at most `bins` rows) reaches the
driver, where `mtlrec.metrics.auc_from_counts` finishes the job.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S

_EPS = 1e-7


def score_bins(df: DataFrame, *, label: str, score: str, bins: int) -> DataFrame:
    """Positives and negatives per score bin (`bin` ascending 0..bins-1), scores in [0, 1]."""
    index = F.least(F.floor(F.col(score) * F.lit(bins)), F.lit(bins - 1)).cast("int")
    is_positive = F.col(label) > F.lit(0.5)
    return (
        df.groupBy(index.alias("bin"))
        .agg(F.count_if(is_positive).alias("pos"), F.count_if(~is_positive).alias("neg"))
        .select("bin", "pos", "neg")
    )


def logloss(label: str, prob: str) -> Column:
    """Mean binary cross-entropy as an aggregate column."""
    p = F.least(F.greatest(F.col(prob), F.lit(_EPS)), F.lit(1 - _EPS))
    y = F.col(label)
    return F.avg(-(y * F.log(p) + (F.lit(1.0) - y) * F.log(F.lit(1.0) - p)))


def with_oracle(samples: DataFrame, truth: DataFrame) -> DataFrame:
    """Samples with the ground-truth score of each task: p_click and p_click*p_purchase|click."""
    return samples.join(truth, on=S.EVENT_ID, how="inner").select(
        S.EVENT_ID,
        S.CLICK,
        S.PURCHASE,
        F.col(S.P_CLICK).alias(f"oracle_{S.CLICK}"),
        (F.col(S.P_CLICK) * F.col(S.P_PURCHASE_GIVEN_CLICK)).alias(f"oracle_{S.PURCHASE}"),
    )


def user_auc(df: DataFrame, *, user: str, label: str, score: str) -> DataFrame:
    """Per-user AUC by the rank-sum (Mann-Whitney) formula, ties at their mean rank.

    Users with only positives or only negatives have no AUC and are left out, as GAUC
    does. Output: `user`, `auc`, `impressions`.
    """
    by_score = Window.partitionBy(user).orderBy(score).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    tied = Window.partitionBy(user, score).rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    is_positive = F.col(label) > F.lit(0.5)
    ranked = df.select(
        user,
        is_positive.alias("pos"),
        (F.rank().over(by_score) + (F.count(F.lit(1)).over(tied) - F.lit(1)) / F.lit(2.0)).alias("mean_rank"),
    )
    per_user = ranked.groupBy(user).agg(
        F.count_if("pos").alias("n_pos"),
        F.count_if(~F.col("pos")).alias("n_neg"),
        F.sum(F.when(F.col("pos"), F.col("mean_rank")).otherwise(F.lit(0.0))).alias("rank_sum"),
    )
    auc = (F.col("rank_sum") - F.col("n_pos") * (F.col("n_pos") + F.lit(1)) / F.lit(2.0)) / (
        F.col("n_pos") * F.col("n_neg")
    )
    return per_user.where((F.col("n_pos") > 0) & (F.col("n_neg") > 0)).select(
        user, auc.alias("auc"), (F.col("n_pos") + F.col("n_neg")).alias("impressions")
    )


def gauc() -> Column:
    """Impression-weighted mean of per-user AUC: an aggregate over `user_auc` rows."""
    return F.sum(F.col("auc") * F.col("impressions")) / F.sum("impressions")
