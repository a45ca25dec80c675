"""Pure transforms of the evaluation stage (the metrics themselves are `mtlrec.metrics`)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S


def with_oracle(samples: DataFrame, truth: DataFrame) -> DataFrame:
    """Samples with the ground-truth score of each task: p_click and p_click*p_purchase|click."""
    return samples.join(truth, on=S.EVENT_ID, how="inner").select(
        S.EVENT_ID,
        S.CLICK,
        S.PURCHASE,
        F.col(S.P_CLICK).alias(f"oracle_{S.CLICK}"),
        (F.col(S.P_CLICK) * F.col(S.P_PURCHASE_GIVEN_CLICK)).alias(f"oracle_{S.PURCHASE}"),
    )
