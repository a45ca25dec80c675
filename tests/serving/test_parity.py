"""Train/serve parity: an exposure from `samples` and the same (user, item, day) built by the
serving path get the same model inputs and the same probabilities."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import torch
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.layout import TIME_FIELDS, FeatureLayout, feature_layout, standardisation, with_time_context
from mtlrec.models import build_model
from mtlrec.models.config import ModelConfig
from mtlrec.run import paths
from mtlrec.run.artifact import ArtifactMetadata, save_artifact
from mtlrec.serving.inference import ServedModel, with_predictions
from mtlrec.serving.pairs import feature_pairs

# builds samples and scores pairs with a trained model
pytestmark = pytest.mark.slow

START = dt.date(2026, 11, 1)
DAYS = [START + dt.timedelta(days=n) for n in range(4)]
TASKS = ("click", "purchase")
LAYOUT = feature_layout(TASKS, TIME_FIELDS)  # every log's context: the hour and day of week
CONTEXT = [S.HOUR, S.DAY_OF_WEEK]
# small tables: some vocabulary indexes are beyond them and go through the hashed rows
MODEL = ModelConfig(
    embedding_dim=4,
    expert_dims=(8,),
    tower_dims=(4,),
    user_buckets=6,
    item_buckets=5,
    category_buckets=8,
    context=TIME_FIELDS,
    context_buckets={S.HOUR: 30, S.DAY_OF_WEEK: 8},
)


@pytest.fixture(scope="module")
def built(funnel_features: Any) -> Path:
    root: Path = funnel_features.root
    return root


def serving_inputs(
    spark: SparkSession,
    root: Path,
    exposures: DataFrame,
    *,
    layout: FeatureLayout = LAYOUT,
    days: list[dt.date] = DAYS,
) -> DataFrame:
    """The serving path's inputs for each (user, item) of `exposures`, day by day (of
    `days`), with the context columns `exposures` carries (else the layout's serving values)."""

    def table(name: str) -> DataFrame:
        return tables.read(spark, paths.table(str(root), name))

    built_days = []
    for day in days:
        on_day = F.col(S.DT) == F.lit(day)
        given = [c for c in CONTEXT if c in exposures.columns]
        pairs = exposures.where(on_day).select(S.USER_ID, S.ITEM_ID, *given).distinct()
        inputs = feature_pairs(
            pairs,
            users=table(S.USER_FEATURES_TABLE).where(on_day),
            items=table(S.ITEM_FEATURES_TABLE).where(on_day),
            cross=table(S.USER_CATEGORY_FEATURES_TABLE).where(on_day),
            vocabulary=table(S.VOCABULARY_TABLE),
            stats=standardisation(table(S.FEATURE_STATS_TABLE)),
            layout=layout,
        )
        built_days.append(inputs.withColumn(S.DT, F.lit(day)))
    out = built_days[0]
    for more in built_days[1:]:
        out = out.unionByName(more)
    return out


def test_a_scored_pair_gets_the_inputs_and_probabilities_of_the_sample_of_the_same_exposure(
    spark: SparkSession, built: Path, tmp_path: Path
) -> None:
    samples = tables.read(spark, paths.table(str(built), S.SAMPLES_TABLE))
    # the funnel shows an item at one price, in one category: an exposure sees what serving sees
    # exposures of one (user, item, day) share their inputs: one of each is enough
    # (and an hour): the serving path is given the exposure's time, which serving would not know
    exposures = (
        with_time_context(samples)
        .select(S.USER_ID, S.ITEM_ID, S.DT, *CONTEXT, *LAYOUT.columns)
        .dropDuplicates([S.USER_ID, S.ITEM_ID, S.DT, S.HOUR])
    )
    served = serving_inputs(spark, built, exposures)
    # a pair whose hour index is not the sample's finds no partner: the counts below differ
    keys = [S.USER_ID, S.ITEM_ID, S.DT, "hour_idx"]
    pairs = exposures.alias("s").join(served.alias("v"), on=keys, how="inner")

    users = tables.read(spark, paths.table(str(built), S.USER_FEATURES_TABLE)).select(S.USER_ID, S.DT)
    # an item seen before the day has a known category and price; on the log's first day
    # none has, and a sample knows them from the exposure alone: serving cannot
    items = tables.read(spark, paths.table(str(built), S.ITEM_FEATURES_TABLE))
    known = items.where(F.col(S.CATEGORY_ID).isNotNull() & F.col(S.PRICE).isNotNull()).select(S.ITEM_ID, S.DT)
    pairs = pairs.join(known, on=[S.ITEM_ID, S.DT], how="left_semi").cache()
    compared = pairs.count()
    described = (
        exposures.join(users, on=[S.USER_ID, S.DT], how="left_semi")
        .join(known, on=[S.ITEM_ID, S.DT], how="left_semi")
        .count()
    )
    # every exposure whose user and item have a feature row that day is served, and compared
    assert compared == described > 100
    differs = {
        c: F.col(f"s.{c}") != F.col(f"v.{c}")
        if c in LAYOUT.sparse_columns
        else F.abs(F.col(f"s.{c}") - F.col(f"v.{c}")) > F.lit(1e-5)
        for c in LAYOUT.columns
    }
    row = pairs.agg(*[F.count_if(cond).alias(c) for c, cond in differs.items()]).first()
    assert row is not None and row.asDict() == dict.fromkeys(LAYOUT.columns, 0)
    assert pairs.agg(F.max("s.user_idx")).first()[0] >= MODEL.user_buckets  # the hashed rows are exercised

    torch.manual_seed(1)
    model_dir = str(tmp_path / "model")
    metadata = ArtifactMetadata(run_id="p", model=dataclasses.asdict(MODEL), layout=LAYOUT.to_dict(), keep_rate=0.5)
    save_artifact(model_dir, build_model(MODEL, LAYOUT).state_dict(), metadata)
    model = ServedModel.load(model_dir)

    def predicted(side: str) -> DataFrame:
        inputs = pairs.select(*keys, *[F.col(f"{side}.{c}").alias(c) for c in LAYOUT.columns if c not in keys])
        return with_predictions(inputs, model=model, keep=keys)

    from_samples, from_serving = predicted("s"), predicted("v")
    both = from_samples.alias("a").join(from_serving.alias("b"), on=keys, how="inner")
    assert both.count() == compared
    for task in TASKS:
        worst = both.agg(F.max(F.abs(F.col(f"a.p_{task}") - F.col(f"b.p_{task}")))).first()[0]
        assert worst < 1e-6, task


def test_a_pair_takes_the_serving_value_of_a_context_field_and_its_scores_follow(
    spark: SparkSession, built: Path, tmp_path: Path
) -> None:
    samples = tables.read(spark, paths.table(str(built), S.SAMPLES_TABLE))
    day = DAYS[2]  # one day is enough: the serving value does not depend on the day
    exposures = samples.where(F.col(S.DT) == F.lit(day)).select(S.USER_ID, S.ITEM_ID, S.DT).dropDuplicates()
    vocabulary = tables.read(spark, paths.table(str(built), S.VOCABULARY_TABLE))
    index = {r[S.ID]: r[S.INDEX] for r in vocabulary.where(F.col(S.FEATURE) == S.HOUR).collect()}
    first, second = sorted(index)[:2]  # two hours of the funnel's train days
    hour = dataclasses.replace(TIME_FIELDS[0], serving=first)
    morning = feature_layout(TASKS, (hour, TIME_FIELDS[1]))
    evening = feature_layout(TASKS, (dataclasses.replace(hour, serving=second), TIME_FIELDS[1]))

    torch.manual_seed(1)
    model_dir = str(tmp_path / "model")
    metadata = ArtifactMetadata(run_id="p", model=dataclasses.asdict(MODEL), layout=morning.to_dict(), keep_rate=0.5)
    save_artifact(model_dir, build_model(MODEL, morning).state_dict(), metadata)
    model = ServedModel.load(model_dir)
    keys = [S.USER_ID, S.ITEM_ID, S.DT]
    scored = {}
    for name, layout in (("morning", morning), ("evening", evening)):
        inputs = serving_inputs(spark, built, exposures, layout=layout, days=[day])
        assert {r["hour_idx"] for r in inputs.select("hour_idx").distinct().collect()} == {
            index[layout.fields[0].serving]
        }
        scored[name] = with_predictions(inputs.select(*keys, *layout.columns), model=model, keep=keys)
    both = scored["morning"].alias("a").join(scored["evening"].alias("b"), on=keys)
    changed = both.agg(F.count_if(F.abs(F.col("a.p_click") - F.col("b.p_click")) > F.lit(1e-6))).first()[0]
    assert changed == both.count() >= 30  # the day's 60 exposures are 42 distinct pairs
