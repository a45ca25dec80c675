"""A log's own fields, end to end: the realistic profile's device, slot position and brand,
declared by its mapping, become context features of the samples, inputs of a trained
model, and, when scoring, take their serving values (issue 12, item 1)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.layout import FeatureLayout, standardisation
from mtlrec.models.artifact import model_config
from mtlrec.run import paths
from mtlrec.serving.inference import ServedModel, with_predictions
from mtlrec.serving.pairs import feature_pairs
from tests.conftest import run_cli

TINY = [
    "generate.users=500",
    "generate.items=150",
    "generate.brands=40",
    "generate.events=16000",
    "generate.days=8",
    "generate.partitions=2",
    "train.epochs=1",
    "train.baselines=[]",
]
DECLARED = ("device", "brand_id", "position")
pytestmark = pytest.mark.slow  # a run of four stages


@pytest.fixture(scope="module")
def run(spark: SparkSession, ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny realistic log through generate, ingest, features and train; the run summary."""
    root = tmp_path_factory.mktemp("declared")
    sets = [a for o in (f"paths.root={root}", *TINY) for a in ("--set", o)]
    for stage in ("generate", "ingest", "features", "train"):
        run_cli([stage, "--conf", "conf/realistic.yaml", *sets])
    summary: dict[str, Any] = storage.read_json(f"{root}/runs/latest.json")
    return summary


def table(spark: SparkSession, summary: dict[str, Any], name: str) -> DataFrame:
    return tables.read(spark, paths.table(summary["config"]["paths"]["root"], name))


def decoded(spark: SparkSession, summary: dict[str, Any], column: str, source: str) -> DataFrame:
    """`event_id` and the value the sample's `column` index stands for in the vocabulary."""
    vocab = table(spark, summary, S.VOCABULARY_TABLE).where(F.col(S.FEATURE) == source)
    samples = table(spark, summary, S.SAMPLES_TABLE).select(S.EVENT_ID, F.col(column).alias(S.INDEX))
    return samples.join(vocab.select(S.INDEX, F.col(S.ID).alias(source)), on=S.INDEX).select(S.EVENT_ID, source)


def test_each_sample_holds_its_exposures_own_context(spark: SparkSession, run: dict[str, Any]) -> None:
    events = table(spark, run, S.EVENTS_TABLE).where(F.col(S.EVENT_TYPE) == S.IMPRESSION)
    samples = table(spark, run, S.SAMPLES_TABLE)
    assert {"device_idx", "brand_id_idx", "hour_idx", "day_of_week_idx", "position"} <= set(samples.columns)
    truth = events.select(
        S.EVENT_ID, "device", "brand_id", "position", F.hour(S.TS).cast("string").alias(S.HOUR)
    ).alias("e")
    n = samples.count()
    for column, source in (("device_idx", "device"), ("brand_id_idx", "brand_id"), ("hour_idx", S.HOUR)):
        found = decoded(spark, run, column, source).alias("s").join(truth, on=S.EVENT_ID)
        # every value is common enough to be in the vocabulary: each sample decodes to its exposure's
        assert found.where(F.col(f"s.{source}") == F.col(f"e.{source}")).count() == n, column
    # the slot is standardised: one value per slot, in the slots' order
    per_slot = (
        samples.alias("s")
        .join(truth, on=S.EVENT_ID)
        .groupBy(F.col("e.position").alias("slot"))
        .agg(F.min("s.position").alias("lo"), F.max("s.position").alias("hi"))
        .orderBy("slot")
        .collect()
    )
    assert len(per_slot) == 10 and all(abs(r["lo"] - r["hi"]) < 1e-6 for r in per_slot)
    assert all(a["hi"] < b["lo"] for a, b in zip(per_slot, per_slot[1:], strict=False))


def test_the_run_records_the_fields_with_their_roles_and_serving_values(
    spark: SparkSession, run: dict[str, Any]
) -> None:
    context = {f["name"]: f for f in run["metrics"]["features"]["context"]}
    assert list(context) == [S.HOUR, S.DAY_OF_WEEK, *DECLARED]
    assert context["position"] == {"name": "position", "numeric": True, "item": False, "serving": 1}
    assert context["brand_id"]["item"] and context["brand_id"]["serving"] is None
    # a field of the exposure the mapping gives no serving value: the train days' most common
    train_days = table(spark, run, S.EVENTS_TABLE).where(
        F.col(S.DT) < F.lit(run["metrics"]["features"]["splits"]["valid_start"])
    )
    (top,) = train_days.groupBy("device").count().orderBy(F.desc("count")).limit(1).collect()
    assert context["device"]["serving"] == top["device"]
    # the items carry their brand as of each day, for scoring
    items = table(spark, run, S.ITEM_FEATURES_TABLE).select(S.ITEM_ID, "brand_id").where(F.col("brand_id").isNotNull())
    shown = table(spark, run, S.EVENTS_TABLE).select(S.ITEM_ID, F.col("brand_id").alias("shown")).distinct()
    assert items.count() > 0
    assert items.join(shown, on=S.ITEM_ID).where(F.col("brand_id") != F.col("shown")).count() == 0


def test_the_trained_model_reads_the_fields_and_scores_follow_the_serving_value(
    spark: SparkSession, run: dict[str, Any]
) -> None:
    model = ServedModel.load(run["artifacts"]["model"])
    layout = model.layout
    assert [f.name for f in layout.fields] == [S.HOUR, S.DAY_OF_WEEK, *DECLARED]
    assert {"device_idx", "brand_id_idx", "position"} <= set(layout.columns)
    vocabulary = table(spark, run, S.VOCABULARY_TABLE)
    brands = vocabulary.where(F.col(S.FEATURE) == "brand_id").count()
    config = model_config(model.metadata.model, model.path)
    assert config.buckets("brand_id") >= brands + 1  # one row per brand, from the vocabulary

    day = run["metrics"]["features"]["scoring_date"]
    users = table(spark, run, S.USER_FEATURES_TABLE).where(F.col(S.DT) == day)
    items = table(spark, run, S.ITEM_FEATURES_TABLE).where(F.col(S.DT) == day)
    pairs = users.select(S.USER_ID).limit(50).crossJoin(items.select(S.ITEM_ID).limit(20))

    def scored(served: FeatureLayout) -> DataFrame:
        inputs = feature_pairs(
            pairs,
            users=users,
            items=items,
            cross=table(spark, run, S.USER_CATEGORY_FEATURES_TABLE).where(F.col(S.DT) == day),
            vocabulary=vocabulary,
            stats=standardisation(table(spark, run, S.FEATURE_STATS_TABLE)),
            layout=served,
        )
        return with_predictions(inputs, model=model, keep=[S.USER_ID, S.ITEM_ID])

    slot = next(f for f in layout.fields if f.name == "position")
    lower = dataclasses.replace(
        layout, fields=tuple(dataclasses.replace(f, serving=8) if f is slot else f for f in layout.fields)
    )
    both = scored(layout).alias("a").join(scored(lower).alias("b"), on=[S.USER_ID, S.ITEM_ID])
    assert both.count() == 1000
    moved = both.agg(F.count_if(F.abs(F.col("a.p_click") - F.col("b.p_click")) > F.lit(1e-6))).first()[0]
    # nearly every pair: one whose hidden units the slot reaches are all inactive (ReLU)
    # may keep its score (CI saw 999 of 1000); a serving value left unused moves none
    assert moved >= 990
