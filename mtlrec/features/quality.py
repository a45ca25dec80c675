"""The train split's view of the dense features: normalisation statistics and the leakage guard.

Both aggregate in Spark; only one row per feature (statistics) or per feature and
label (AUC) reaches the driver. AUC is `metrics.grouped_auc` over value bins: positives
and negatives per bin, Mann-Whitney over the bins in value order, where a bin with
both counts one half. Values are binned over each feature's [min, max].
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from mtlrec import metrics as M
from mtlrec import schema as S
from mtlrec.metrics import AUC, NEG, POS

LABEL, VALUE, BIN = "label", "value", "bin"


def dense_stats(df: DataFrame, *, features: Sequence[str], weight: str) -> DataFrame:
    """Per feature: the `weight`-weighted mean and std of its non-null values."""
    w = F.col(weight).cast("double")
    stats = []
    for name in features:
        x = F.col(name).cast("double")
        total = F.sum(F.when(x.isNotNull(), w))
        mean = F.try_divide(F.sum(w * x), total)
        square = F.try_divide(F.sum(w * x * x), total)
        std = F.sqrt(F.greatest(square - mean * mean, F.lit(0.0)))
        stats.append(F.struct(mean.alias(S.MEAN), std.alias(S.STD)).alias(name))
    long = df.agg(*stats).unpivot([], list(features), S.FEATURE, "stats")
    return long.select(S.FEATURE, F.col(f"stats.{S.MEAN}").alias(S.MEAN), F.col(f"stats.{S.STD}").alias(S.STD))


def single_feature_auc(df: DataFrame, *, features: Sequence[str], labels: Sequence[str], bins: int) -> DataFrame:
    """AUC of each feature alone as a score for each label, with the label's counts."""
    cols = [F.col(c).cast("double").alias(c) for c in (*labels, *features)]
    long = (
        df.select(*cols)
        .unpivot(list(labels), list(features), S.FEATURE, VALUE)
        .where(F.col(VALUE).isNotNull() & ~F.isnan(VALUE))
    )
    ranges = long.groupBy(S.FEATURE).agg(F.min(VALUE).alias("lo"), F.max(VALUE).alias("hi"))
    width = F.col("hi") - F.col("lo")
    scaled = F.try_divide(F.col(VALUE) - F.col("lo"), width)
    binned = long.join(F.broadcast(ranges), on=S.FEATURE, how="inner").withColumn(
        BIN, F.least(F.coalesce(F.floor(scaled * F.lit(bins)), F.lit(0)), F.lit(bins - 1))
    )
    per_label = [
        M.level_counts(binned, groups=[S.FEATURE], level=F.col(BIN), label=F.col(y)).withColumn(LABEL, F.lit(y))
        for y in labels
    ]
    counts = functools.reduce(DataFrame.unionByName, per_label)
    return M.grouped_auc(counts, groups=[S.FEATURE, LABEL]).select(S.FEATURE, LABEL, AUC, POS, NEG)


@dataclass(frozen=True)
class Leak:
    feature: str
    label: str
    auc: float

    def __str__(self) -> str:
        return f"feature {self.feature!r} alone has AUC {self.auc:.4f} for label {self.label!r}"


class LeakageError(ValueError):
    """A feature predicts a label too well to be known before the exposure."""


def leaks(rows: Iterable[dict], *, max_auc: float, min_class: int) -> list[Leak]:
    """The (feature, label) pairs whose AUC, either way round, exceeds `max_auc`.

    A pair with fewer than `min_class` positives or negatives gets no verdict.
    """
    found = []
    for r in rows:
        if r[AUC] is None or min(r[POS], r[NEG]) < min_class:
            continue
        strength = max(r[AUC], 1.0 - r[AUC])  # a feature that sorts negatives first leaks too
        if strength > max_auc:
            found.append(Leak(r[S.FEATURE], r[LABEL], r[AUC]))
    return sorted(found, key=lambda leak: -max(leak.auc, 1 - leak.auc))
