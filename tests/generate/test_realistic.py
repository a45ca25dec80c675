"""The realistic profile at a tiny size: context on every line, Zipf shape, its rates,
the truth's dependence on the context, and the default profile left as it was."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.config import ConfigError, load_config
from mtlrec.generate import dirt, logs, realistic, stage
from mtlrec.generate.config import PROFILES, GenerateConfig
from mtlrec.generate.draws import zipf_index

CONF = Path(__file__).resolve().parents[2] / "conf" / "realistic.yaml"
# conf/realistic.yaml's settings (its rates and effects) at a tiny size: ~20k impressions
TINY = dataclasses.replace(
    load_config(CONF, ["generate.users=2000", "generate.items=500", "generate.events=21000"]).generate,
    brands=60,
    categories=20,
    partitions=2,
)
RAW_FIELDS = set(S.RAW_SCHEMA.fieldNames())


@pytest.fixture(scope="module")
def imps(spark: SparkSession) -> Iterator[DataFrame]:
    df = realistic.impressions(spark, TINY).persist()
    yield df
    df.unpersist()


def parsed_lines(spark: SparkSession, gen: GenerateConfig) -> list[dict[str, object]]:
    """The JSON objects of the clean-looking lines (kinds whose line is whole and valid JSON)."""
    lines = stage.labelled_lines(spark, gen, stage.impressions(spark, gen))
    whole = lines.where(F.col(dirt.KIND).isin(dirt.CLEAN, dirt.DUPLICATE, dirt.LATE, dirt.BOT))
    return [json.loads(r[0]) for r in whole.select("value").collect()]


@pytest.mark.slow
def test_every_line_carries_device_position_and_the_brand_of_its_item(spark: SparkSession) -> None:
    objects = parsed_lines(spark, TINY)

    assert {o[S.EVENT_TYPE] for o in objects} == set(S.EVENT_TYPES)
    assert all(set(o) == RAW_FIELDS | set(realistic.CONTEXT_FIELDS) for o in objects)
    assert {o[realistic.DEVICE] for o in objects} == set(realistic.DEVICES)
    assert {o[realistic.POSITION] for o in objects} == set(range(1, TINY.slots + 1))
    brands: dict[object, set[object]] = {}
    for o in objects:
        brands.setdefault(o[S.ITEM_ID], set()).add(o[realistic.BRAND_ID])
    assert all(len(b) == 1 for b in brands.values())
    assert len({b for bs in brands.values() for b in bs}) > 10


def test_without_extra_fields_the_lines_have_the_raw_fields_only(spark: SparkSession) -> None:
    objects = parsed_lines(spark, dataclasses.replace(TINY, extra_fields=False, events=2000))

    assert objects and all(set(o) == RAW_FIELDS for o in objects)


def test_parquet_rows_carry_the_context_columns(spark: SparkSession) -> None:
    gen = dataclasses.replace(TINY, format="parquet", events=2000)

    rows = stage.labelled_lines(spark, gen, stage.impressions(spark, gen))

    assert set(realistic.CONTEXT_FIELDS) <= set(rows.columns)
    assert rows.where(F.col(realistic.POSITION).isNull() | F.col(realistic.DEVICE).isNull()).count() == 0


def top_share(imps: DataFrame, key: str, population: int) -> float:
    counts = sorted((r["count"] for r in imps.groupBy(key).count().collect()), reverse=True)
    return sum(counts[: population // 10]) / sum(counts)


def test_activity_and_popularity_are_heavy_headed_yet_most_users_visit(imps: DataFrame) -> None:
    assert top_share(imps, "u", TINY.users) > 0.3  # uniform: 0.1
    assert top_share(imps, "i", TINY.items) > 0.4
    assert imps.select("u").distinct().count() > 0.9 * TINY.users


def test_click_and_purchase_rates_are_near_the_targets(spark: SparkSession, imps: DataFrame) -> None:
    events = {r[S.EVENT_TYPE]: r["count"] for r in logs.funnel(imps, cfg=TINY).groupBy(S.EVENT_TYPE).count().collect()}

    assert 15_000 < events[S.IMPRESSION] < 25_000
    assert 0.025 < events[S.CLICK] / events[S.IMPRESSION] < 0.06
    assert 0.035 < events[S.PURCHASE] / events[S.CLICK] < 0.12


@pytest.mark.slow
def test_the_same_seed_gives_the_same_log_and_another_seed_another(spark: SparkSession) -> None:
    gen = dataclasses.replace(TINY, events=3000)

    def lines(g: GenerateConfig) -> DataFrame:
        return stage.labelled_lines(spark, g, stage.impressions(spark, g))

    first, again, other = lines(gen), lines(gen), lines(dataclasses.replace(gen, seed=8))
    assert first.exceptAll(again).count() == 0 and again.exceptAll(first).count() == 0
    assert first.exceptAll(other).count() > 0.9 * first.count()


def mean_p_click(imps: DataFrame, band: F.Column) -> float:
    row = imps.where(band).agg(F.avg(S.P_CLICK)).first()
    assert row is not None and row[0] is not None
    return float(row[0])


def test_the_true_click_chance_falls_with_the_slot_and_varies_by_device(imps: DataFrame) -> None:
    position, device = F.col(realistic.POSITION), F.col(realistic.DEVICE)

    first, next_three, rest = (
        mean_p_click(imps, position == 1),
        mean_p_click(imps, position.between(2, 4)),
        mean_p_click(imps, position >= 5),
    )
    assert first > next_three > rest and rest < 0.7 * first
    assert mean_p_click(imps, device == "desktop") < 0.85 * mean_p_click(imps, device == "app")


def test_the_truth_table_holds_the_context_of_each_impression(spark: SparkSession, imps: DataFrame) -> None:
    truth = stage.truth(TINY, imps)

    assert truth.columns == [S.EVENT_ID, S.P_CLICK, S.P_PURCHASE_GIVEN_CLICK, *realistic.TRUTH_CONTEXT]
    assert truth.where(F.col(realistic.HOUR).between(0, 23)).count() == imps.count()
    assert truth.select(S.EVENT_ID).distinct().count() == imps.count()


def test_zipf_index_puts_more_weight_on_the_head_the_larger_the_exponent(spark: SparkSession) -> None:
    def head_share(exponent: float) -> float:
        drawn = spark.range(20_000).select(zipf_index(3, "z", F.col("id"), size=1000, exponent=exponent).alias("k"))
        row = drawn.agg(F.min("k"), F.max("k"), F.avg((F.col("k") < 10).cast("double"))).first()
        assert row is not None and row[0] >= 0 and row[1] <= 999
        return float(row[2])

    flat, zipf, steep = head_share(0.01), head_share(1.0), head_share(1.5)
    assert flat < 0.02 < 0.25 < zipf < steep


def test_profile_and_extra_fields_are_checked_naming_the_key() -> None:
    assert set(stage.IMPRESSIONS) == set(PROFILES)
    with pytest.raises(ConfigError, match="generate.profile must be one of"):
        load_config(None, ["generate.profile=fancy"])
    with pytest.raises(ConfigError, match="generate.extra_fields"):
        load_config(CONF, ["generate.format=csv"])
    assert load_config(CONF, ["generate.format=csv", "generate.extra_fields=false"]).generate.format == "csv"
    assert load_config(None, ["generate.format=csv"]).generate.profile == "default"


def test_the_default_profile_writes_what_it_wrote_before_the_realistic_one(spark: SparkSession) -> None:
    """Digests of the default profile's JSON lines and truth at a small size, computed by
    running the generator of main at 5971f46 (before the realistic profile existed)."""
    gen = GenerateConfig(events=4000, users=300, items=200, partitions=2, bot_users=2)
    imps = stage.impressions(spark, gen)

    def digest(df: DataFrame) -> tuple[int, str]:
        rows = sorted(str(tuple(r)) for r in df.collect())
        return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()

    assert digest(stage.labelled_lines(spark, gen, imps)) == (
        3947,
        "c2deb1039f8a9a017f2895a5ff9f708bae7ce7b04a17351c9d1433078f427179",
    )
    assert digest(stage.truth(gen, imps)) == (
        3364,
        "ea5861e00548745151821e5997c9d38910285c0a62448399cb755b8130494d22",
    )
