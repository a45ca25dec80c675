"""End to end: `mtlrec run` on a tiny generated log, over real Spark, Delta and Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.cli import STAGES, main
from mtlrec.config import load_config
from mtlrec.run.summary import RunSummary
from mtlrec.serving.inference import ServedModel
from mtlrec.serving.scored import last_feature_day, probability_columns, scored_candidates
from mtlrec.tables import read_arrow
from tests.conftest import PIPELINE

K, CAP = 5, 2  # score.top_k and score.category_cap of the shared run (conftest.PIPELINE)


@pytest.mark.slow
def test_run_records_every_stage_with_timings_and_test_metrics(pipeline_summary: dict[str, Any]) -> None:
    assert list(pipeline_summary["stages"]) == list(STAGES)
    assert all(stage["seconds"] > 0 for stage in pipeline_summary["stages"].values())
    for task in ("click", "purchase"):
        assert 0.0 < pipeline_summary["metrics"]["test"][task]["logloss"] < 1.0
        assert 0.5 < pipeline_summary["metrics"]["oracle"][task]["auc"] <= 1.0
    report = Path(pipeline_summary["artifacts"]["report"])
    files = {"report.md", "metrics.json", "calibration.png", "learning_curves.png", "task_auc.png", "ranking.png"}
    assert files | {"report.html"} <= {p.name for p in report.iterdir()}
    assert (
        pipeline_summary["metrics"]["report_extras_seconds"] > 0
        and pipeline_summary["metrics"]["importance_seconds"] > 0
    )
    page = (report / "report.html").read_text()
    assert "What the model relies on" in page and "importance_click.png" not in page  # plots inlined


@pytest.mark.slow
def test_evaluate_ranks_every_strategy_and_baseline_and_reports_uplift(pipeline_summary: dict[str, Any]) -> None:
    metrics = pipeline_summary["metrics"]
    strategies = set(pipeline_summary["config"]["score"]["strategies"])
    expected = {f"mmoe/{s}" for s in strategies} | {f"single_task/{s}" for s in strategies} | {"popular/most_popular"}
    assert set(metrics["ranking"]) == expected
    for values in metrics["ranking"].values():
        assert values["users"] > 0
        assert 0.0 <= values["precision"] <= values["hit_rate"] <= 1.0
        assert 0.0 <= values["recall"] <= 1.0 and 0.0 <= values["ndcg"] <= 1.0
        assert 0.0 < values["coverage"] <= 1.0
    baseline = metrics["baselines"]["single_task"]
    for task in ("click", "purchase"):
        # the baseline is scored on the very rows the model is: the same labels, another model
        assert baseline[task]["base_rate"] == metrics["test"][task]["base_rate"]
        assert baseline[task]["auc"] != metrics["test"][task]["auc"]
        assert set(metrics["uplift"]["single_task"][task]) == {"auc", "gauc", "logloss"}
        assert 0.0 <= metrics["thresholds"][task]["precision"] <= 1.0
    report = (Path(pipeline_summary["artifacts"]["report"]) / "report.md").read_text()
    assert "## Ranking at K = 5" in report and "popular/most_popular" in report and "AUC uplift" in report


@pytest.mark.slow
def test_scoring_only_some_users_gives_them_what_scoring_everyone_gives_them(
    spark: SparkSession, pipeline_summary: dict[str, Any]
) -> None:
    # evaluate ranks only the test days' buyers on this guarantee
    root = pipeline_summary["config"]["paths"]["root"]
    summary = RunSummary.load(root)
    model = ServedModel.load(summary.model_path())
    day = last_feature_day(spark, root=root, version=summary.table_version(S.USER_FEATURES_TABLE))
    versions: dict[str, int | None] = {name: ref.version for name, ref in model.tables.items()}
    sc = load_config(None, [f"paths.root={root}", *PIPELINE]).score

    def scored(only: Any = None) -> dict[tuple[str, str], tuple[float, ...]]:
        pairs = scored_candidates(spark, root=root, model=model, sc=sc, day=day, versions=versions, only=only).pairs
        probs = probability_columns(model.tasks)
        return {(r[S.USER_ID], r[S.ITEM_ID]): tuple(r[p] for p in probs) for r in pairs.collect()}

    everyone = scored()
    users = sorted({user for user, _ in everyone})
    some = users[:: max(1, len(users) // 5)][:5]
    only = scored(spark.createDataFrame([(u,) for u in some], [S.USER_ID]))
    expected = {pair: probs for pair, probs in everyone.items() if pair[0] in some}
    assert len(users) > 100 and {user for user, _ in only} == set(some)
    assert set(only) == set(expected)
    for pair, probs in only.items():
        assert probs == pytest.approx(expected[pair], rel=1e-5, abs=1e-7)


@pytest.mark.slow
def test_every_table_is_a_delta_table_deltalake_reads_at_the_recorded_version(
    spark: SparkSession, pipeline_summary: dict[str, Any]
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
        S.LEADERBOARD_TABLE,
        S.BEHAVIOUR_FUNNEL_DAILY_TABLE,
        S.BEHAVIOUR_FUNNEL_CATEGORY_TABLE,
        S.BEHAVIOUR_COHORTS_TABLE,
        S.BEHAVIOUR_CATEGORY_TRENDS_TABLE,
    }
    assert set(pipeline_summary["tables"]) == expected
    for name, table in pipeline_summary["tables"].items():
        arrow_rows = read_arrow(table["path"], version=table["version"]).num_rows  # through deltalake
        spark_rows = spark.read.format("delta").option("versionAsOf", table["version"]).load(table["path"]).count()
        assert arrow_rows == spark_rows > 0, name


@pytest.mark.slow
def test_every_user_with_events_gets_k_distinct_unbought_items_per_strategy_within_the_category_cap(
    spark: SparkSession, pipeline_summary: dict[str, Any]
) -> None:
    tables = pipeline_summary["tables"]
    events = spark.read.format("delta").load(tables[S.EVENTS_TABLE]["path"])
    recs = spark.read.format("delta").load(tables[S.RECOMMENDATIONS_TABLE]["path"])
    strategies = set(pipeline_summary["config"]["score"]["strategies"])
    per_list = recs.groupBy(S.STRATEGY, S.USER_ID).agg(
        F.count(F.lit(1)).alias("n"),
        F.count_distinct(S.ITEM_ID).alias("items"),
        F.count_distinct(S.RANK).alias("ranks"),
        F.max(S.RANK).alias("top"),
    )
    users = events.select(S.USER_ID).distinct()
    expected_lists = users.crossJoin(spark.createDataFrame([(s,) for s in strategies], "strategy string"))
    assert expected_lists.join(per_list, on=[S.STRATEGY, S.USER_ID], how="left_anti").count() == 0
    assert per_list.count() == users.count() * len(strategies)
    assert (
        per_list.where((F.col("n") != K) | (F.col("items") != K) | (F.col("ranks") != K) | (F.col("top") != K)).count()
        == 0
    )
    # never an item the user bought before the scoring day (= after every event)
    bought = events.where(F.col(S.EVENT_TYPE) == F.lit(S.PURCHASE)).select(S.USER_ID, S.ITEM_ID).distinct()
    assert recs.join(bought, on=[S.USER_ID, S.ITEM_ID]).count() == 0
    per_category = recs.groupBy(S.STRATEGY, S.USER_ID, S.CATEGORY_ID).count()
    assert per_category.where(F.col("count") > CAP).count() == 0
    # a strategy's list is in score order, and p_ctcvr is p_purchase
    assert recs.where(F.abs(F.col("p_ctcvr") - F.col("p_purchase")) > 1e-12).count() == 0
    ctcvr = recs.where(F.col(S.STRATEGY) == F.lit("ctcvr"))
    assert ctcvr.where(F.abs(F.col(S.SCORE) - F.col("p_ctcvr")) > 1e-9).count() == 0


@pytest.mark.slow
def test_leaderboards_rank_items_by_expected_purchases_overall_per_category_and_by_trend(
    spark: SparkSession, pipeline_summary: dict[str, Any]
) -> None:
    boards = spark.read.format("delta").load(pipeline_summary["tables"][S.LEADERBOARD_TABLE]["path"])
    recs = spark.read.format("delta").load(pipeline_summary["tables"][S.RECOMMENDATIONS_TABLE]["path"])
    assert {r[S.BOARD] for r in boards.select(S.BOARD).distinct().collect()} == {
        "expected_purchases",
        "category_expected_purchases",
        "trending",
    }
    overall = boards.where(F.col(S.BOARD) == "expected_purchases").orderBy(S.RANK).collect()
    values = [r[S.VALUE] for r in overall]
    assert values == sorted(values, reverse=True) and [r[S.RANK] for r in overall] == list(range(1, len(overall) + 1))
    assert boards.select(S.MODEL_RUN_ID).distinct().collect()[0][0] == recs.select(S.MODEL_RUN_ID).first()[0]


@pytest.mark.slow
def test_model_beats_chance_on_test_clicks_and_records_its_lineage(pipeline_summary: dict[str, Any]) -> None:
    assert pipeline_summary["metrics"]["test"]["click"]["auc"] > 0.55
    model_dir = Path(pipeline_summary["artifacts"]["model"])
    metadata = storage.read_json(str(model_dir / "metadata.json"))
    assert metadata["tables"][S.SAMPLES_TABLE]["version"] == pipeline_summary["tables"][S.SAMPLES_TABLE]["version"]
    assert metadata["config"]["generate"]["events"] == 35000
    assert (model_dir / "model.pt").stat().st_size > 0


@pytest.mark.slow
def test_each_trained_model_is_logged_to_mlflow_with_params_epoch_metrics_and_weights(
    pipeline_summary: dict[str, Any],
) -> None:
    import mlflow

    root = pipeline_summary["config"]["paths"]["root"]
    client = mlflow.MlflowClient(tracking_uri=f"file://{root}/mlruns")
    experiment = client.get_experiment_by_name("mtlrec")
    assert experiment is not None
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    # the run's model and its single-task baseline
    assert set(runs) == {f"{pipeline_summary['run_id']}-mmoe", f"{pipeline_summary['run_id']}-single_task"}
    logged = runs[f"{pipeline_summary['run_id']}-mmoe"]
    metadata = storage.read_json(f"{pipeline_summary['artifacts']['model']}/metadata.json")
    assert logged.data.params["model.name"] == "mmoe"
    assert logged.data.params["train.epochs"] == "3"
    assert logged.data.metrics["best.valid.click_auc"] == pytest.approx(metadata["metrics"]["valid/click_auc"])
    epochs = client.get_metric_history(logged.info.run_id, "valid.click_auc")
    assert sorted(m.step for m in epochs) == [h["epoch"] for h in metadata["history"]]
    assert "model/model.pt" in {f.path for f in client.list_artifacts(logged.info.run_id, "model")}
    # evaluate logged into the model's run (no third run): its test metrics and the report
    assert logged.data.metrics["test.click.auc"] == pytest.approx(
        pipeline_summary["metrics"]["test"]["click"]["auc"]
    ) and ("report/report.html" in {f.path for f in client.list_artifacts(logged.info.run_id, "report")})


@pytest.mark.slow
def test_rerunning_ingest_replaces_its_dates_without_duplicates(
    spark: SparkSession, pipeline_summary: dict[str, Any]
) -> None:
    root = pipeline_summary["config"]["paths"]["root"]
    events_path = pipeline_summary["tables"][S.EVENTS_TABLE]["path"]
    version = pipeline_summary["tables"][S.EVENTS_TABLE]["version"]
    before = spark.read.format("delta").option("versionAsOf", version).load(events_path)
    before_rows = before.count()
    code = main(["ingest", "--conf", "conf/local.yaml", "--set", f"paths.root={root}", "--new-run"])
    assert code == 0
    after = spark.read.format("delta").load(events_path)
    assert after.count() == before_rows
    assert after.select(S.EVENT_ID).distinct().count() == before_rows
    assert before.exceptAll(after).count() == 0 and after.exceptAll(before).count() == 0
