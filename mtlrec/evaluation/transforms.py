"""Pure transforms of the evaluation stage: predictions -> fixed-size metric tables.

AUC over millions of rows without collecting them: Spark counts positives and
negatives per fine score bin, and only that table (at most `bins` rows) reaches the
driver, where `mtlrec.metrics.auc_from_counts` finishes the job.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
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
