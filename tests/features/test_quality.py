from __future__ import annotations

import logging
import math

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.features.build import leakage_guard
from mtlrec.features.config import FeaturesConfig
from mtlrec.features.quality import Leak, LeakageError, dense_stats, leaks, single_feature_auc
from mtlrec.metrics import auc


def train_rows(spark: SparkSession) -> DataFrame:
    """400 rows: a click label, an honest noisy feature and a column that leaks the label."""
    noise = F.xxhash64("id").bitwiseAND(F.lit(1023)).cast("double") / F.lit(1024.0)
    click = ((F.col("id") % F.lit(3)) == F.lit(0)).cast("float")
    return spark.range(400).select(
        click.alias(S.CLICK),
        (F.lit(0.3) * click + noise).alias("honest"),
        # what a label joined from the future looks like: the label itself, slightly blurred
        (click * F.lit(10.0) + noise).alias("leaky"),
    )


def test_single_feature_auc_matches_the_exact_auc_for_each_feature(spark: SparkSession) -> None:
    rows = train_rows(spark)
    local = rows.toPandas()

    actual = {
        r[S.FEATURE]: r
        for r in single_feature_auc(rows, features=["honest", "leaky"], labels=[S.CLICK], bins=100_000).collect()
    }

    for feature in ("honest", "leaky"):
        assert actual[feature]["auc"] == pytest.approx(
            auc(local[S.CLICK].to_numpy(), local[feature].to_numpy()), abs=1e-3
        )
        assert (actual[feature]["pos"], actual[feature]["neg"]) == (134, 266)
    assert actual["leaky"]["auc"] == 1.0
    assert 0.6 < actual["honest"]["auc"] < 0.98


def labelled_train(spark: SparkSession) -> DataFrame:
    return train_rows(spark).select(
        F.lit(S.TRAIN).alias(S.SPLIT), "*", F.lit(0.0).alias(S.CART), F.lit(None).cast("float").alias(S.PURCHASE)
    )


def test_the_guard_stops_the_run_naming_the_planted_leaking_feature_and_its_label(spark: SparkSession) -> None:
    with pytest.raises(LeakageError, match="feature 'leaky' alone has AUC 1.0000 for label 'click'"):
        leakage_guard(labelled_train(spark), fc=FeaturesConfig(leakage_sample=1.0), features=["honest", "leaky"])


def test_the_guard_only_warns_when_configured(spark: SparkSession, caplog: pytest.LogCaptureFixture) -> None:
    fc = FeaturesConfig(leakage_sample=1.0, leakage_fail=False)

    with caplog.at_level(logging.WARNING):
        auc = leakage_guard(labelled_train(spark), fc=fc, features=["honest", "leaky"])

    assert "'leaky' alone has AUC 1.0000 for label 'click'" in caplog.text
    assert auc["leaky"] == {S.CLICK: 1.0, S.CART: None, S.PURCHASE: None}
    assert 0.6 < (auc["honest"][S.CLICK] or 0.0) < 0.98


def test_leaks_are_the_pairs_above_the_bound(spark: SparkSession) -> None:
    rows = single_feature_auc(train_rows(spark), features=["honest", "leaky"], labels=[S.CLICK], bins=1000)

    found = leaks([r.asDict() for r in rows.collect()], max_auc=0.98, min_class=50)

    assert found == [Leak("leaky", S.CLICK, 1.0)]


def test_the_guard_flags_a_feature_that_sorts_negatives_first_and_skips_tiny_classes() -> None:
    rows = [
        {S.FEATURE: "inverted", "label": "click", "auc": 0.01, "pos": 500, "neg": 500},
        {S.FEATURE: "tiny", "label": "purchase", "auc": 1.0, "pos": 3, "neg": 500},
        {S.FEATURE: "no_positives", "label": "cart", "auc": None, "pos": 0, "neg": 500},
        {S.FEATURE: "fine", "label": "click", "auc": 0.7, "pos": 500, "neg": 500},
    ]

    assert leaks(rows, max_auc=0.98, min_class=50) == [Leak("inverted", "click", 0.01)]


def test_dense_stats_are_weighted_means_and_stds_ignoring_nulls(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(1.0, 0.0, 1.0), (3.0, None, 1.0), (5.0, 4.0, 2.0), (None, 2.0, 1.0)], "a double, b double, weight float"
    )

    actual = dense_stats(df, features=["a", "b"], weight=S.WEIGHT)

    # a: values 1, 3, 5, 5 (the last counted twice) -> mean 3.5; b: 0, 4, 4, 2 -> mean 2.5
    expected = spark.createDataFrame(
        [
            ("a", 3.5, math.sqrt((2.5**2 + 0.5**2 + 2 * 1.5**2) / 4)),
            ("b", 2.5, math.sqrt((2.5**2 + 2 * 1.5**2 + 0.5**2) / 4)),
        ],
        "feature string, mean double, std double",
    )
    assertDataFrameEqual(actual, expected, rtol=1e-9)
