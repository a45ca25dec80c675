"""The feature layout: which sample column feeds which tensor slot.

Defined once, below both training and scoring, so a model trained on one layout is
scored on the same one. `features` writes the columns named here into `samples`;
scoring builds the same columns for (user, candidate item) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mtlrec.config import ModelConfig
from mtlrec.schema import CATEGORY_ID, ITEM_ID, USER_ID


@dataclass(frozen=True)
class SparseFeature:
    """An id column hashed into `buckets` embedding rows."""

    name: str  # the index column in samples, e.g. "user_idx"
    source: str  # the raw id column it is hashed from
    buckets: int


# Dense features, in tensor order. `features` computes them point-in-time correct.
USER_DENSE = (
    "user_log_impressions",
    "user_log_clicks",
    "user_log_purchases",
    "user_ctr",
    "user_cvr",
)
ITEM_DENSE = (
    "item_log_impressions",
    "item_log_clicks",
    "item_log_purchases",
    "item_ctr",
    "item_cvr",
    "item_log_price",
)
DENSE = USER_DENSE + ITEM_DENSE


@dataclass(frozen=True)
class FeatureLayout:
    sparse: tuple[SparseFeature, ...]
    dense: tuple[str, ...]
    tasks: tuple[str, ...]

    @property
    def sparse_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.sparse)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column a model reads (labels excluded)."""
        return self.sparse_columns + self.dense


def feature_layout(model: ModelConfig, tasks: tuple[str, ...]) -> FeatureLayout:
    return FeatureLayout(
        sparse=(
            SparseFeature("user_idx", USER_ID, model.user_buckets),
            SparseFeature("item_idx", ITEM_ID, model.item_buckets),
            SparseFeature("cat_idx", CATEGORY_ID, model.category_buckets),
        ),
        dense=DENSE,
        tasks=tasks,
    )


def bucket(column: str, buckets: int) -> Column:
    """Stable hash of an id into [1, buckets); 0 is kept for a missing id."""
    hashed = F.pmod(F.xxhash64(F.col(column)), F.lit(buckets - 1)) + F.lit(1)
    return F.when(F.col(column).isNull(), F.lit(0)).otherwise(hashed).cast("long")


def with_sparse_indices(df: DataFrame, *, layout: FeatureLayout) -> DataFrame:
    """Add one hashed index column per sparse feature of `layout`."""
    return df.withColumns({f.name: bucket(f.source, f.buckets) for f in layout.sparse})
