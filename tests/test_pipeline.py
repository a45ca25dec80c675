"""End to end: `mtlrec run` on a tiny generated log, over real Spark, Delta and Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import deltalake
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.cli import STAGES, main

TINY = [
    "generate.events=35000",
    "generate.users=600",
    "generate.items=250",
    "train.epochs=3",
    "score.top_k=5",
    "score.candidates=40",
]


@pytest.fixture(scope="module")
def run_summary(spark: SparkSession, ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("pipeline")
    overrides = [f"paths.root={root}", *TINY]
    code = main(["run", "--conf", "conf/local.yaml", *[a for o in overrides for a in ("--set", o)]])
    assert code == 0
    summary: dict[str, Any] = storage.read_json(f"{root}/runs/latest.json")
    return summary


@pytest.mark.slow
def test_run_records_every_stage_with_timings_and_test_metrics(run_summary: dict[str, Any]) -> None:
    assert list(run_summary["stages"]) == list(STAGES)
    assert all(stage["seconds"] > 0 for stage in run_summary["stages"].values())
    for task in ("click", "purchase"):
        assert 0.0 < run_summary["metrics"]["test"][task]["logloss"] < 1.0
        assert 0.5 < run_summary["metrics"]["oracle"][task]["auc"] <= 1.0
    report = Path(run_summary["artifacts"]["report"])
    assert {"report.md", "metrics.json", "calibration.png", "learning_curves.png"} <= {p.name for p in report.iterdir()}


@pytest.mark.slow
def test_every_table_is_a_delta_table_deltalake_reads_at_the_recorded_version(
    spark: SparkSession, run_summary: dict[str, Any]
) -> None:
    expected = {
        S.TRUTH_TABLE,
        S.EVENTS_TABLE,
        S.QUARANTINE_TABLE,
        S.DQ_METRICS_TABLE,
        S.USER_CATEGORY_DAILY_TABLE,
        S.ITEM_DAILY_TABLE,
        S.USER_FEATURES_TABLE,
        S.ITEM_FEATURES_TABLE,
        S.USER_CATEGORY_FEATURES_TABLE,
        S.VOCABULARY_TABLE,
        S.FEATURE_STATS_TABLE,
        S.SAMPLES_TABLE,
        S.RECOMMENDATIONS_TABLE,
    }
    assert set(run_summary["tables"]) == expected
    for name, table in run_summary["tables"].items():
        delta = deltalake.DeltaTable(table["path"], version=table["version"])
        spark_rows = spark.read.format("delta").option("versionAsOf", table["version"]).load(table["path"]).count()
        assert delta.to_pyarrow_table().num_rows == spark_rows > 0, name


@pytest.mark.slow
def test_every_user_with_events_gets_exactly_k_distinct_items(spark: SparkSession, run_summary: dict[str, Any]) -> None:
    tables = run_summary["tables"]
    events = spark.read.format("delta").load(tables[S.EVENTS_TABLE]["path"])
    recs = spark.read.format("delta").load(tables[S.RECOMMENDATIONS_TABLE]["path"])
    per_user = recs.groupBy(S.USER_ID).agg(
        F.count(F.lit(1)).alias("n"), F.count_distinct(S.ITEM_ID).alias("items"), F.max(S.RANK).alias("top")
    )
    users_with_events = events.select(S.USER_ID).distinct()
    missing = users_with_events.join(per_user, on=S.USER_ID, how="left_anti").count()
    wrong = per_user.where((F.col("n") != 5) | (F.col("items") != 5) | (F.col("top") != 5)).count()
    assert missing == 0
    assert wrong == 0
    assert per_user.count() == users_with_events.count()


@pytest.mark.slow
def test_model_beats_chance_on_test_clicks_and_records_its_lineage(run_summary: dict[str, Any]) -> None:
    assert run_summary["metrics"]["test"]["click"]["auc"] > 0.55
    model_dir = Path(run_summary["artifacts"]["model"])
    metadata = storage.read_json(str(model_dir / "metadata.json"))
    assert metadata["tables"][S.SAMPLES_TABLE]["version"] == run_summary["tables"][S.SAMPLES_TABLE]["version"]
    assert metadata["config"]["generate"]["events"] == 35000
    assert (model_dir / "model.pt").stat().st_size > 0


@pytest.mark.slow
def test_rerunning_ingest_replaces_its_dates_without_duplicates(
    spark: SparkSession, run_summary: dict[str, Any]
) -> None:
    root = run_summary["config"]["paths"]["root"]
    events_path = run_summary["tables"][S.EVENTS_TABLE]["path"]
    version = run_summary["tables"][S.EVENTS_TABLE]["version"]
    before = spark.read.format("delta").option("versionAsOf", version).load(events_path)
    before_rows = before.count()
    code = main(["ingest", "--conf", "conf/local.yaml", "--set", f"paths.root={root}", "--new-run"])
    assert code == 0
    after = spark.read.format("delta").load(events_path)
    assert after.count() == before_rows
    assert after.select(S.EVENT_ID).distinct().count() == before_rows
    assert before.exceptAll(after).count() == 0 and after.exceptAll(before).count() == 0
