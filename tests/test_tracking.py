"""MLflow tracking against a real folder store: what `train` and `evaluate` log, and where.

The model is a tiny one with random weights, published from a real (single-process)
checkpoint through `train.publish`, so no Ray fit is needed. The data root is a
`file://` URI: every file reaches MLflow through `mtlrec.storage`, the path a remote
root (`s3://...`) takes.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch

from mtlrec import storage
from mtlrec.config import Config, MlflowConfig, PathsConfig
from mtlrec.features.config import FeaturesConfig
from mtlrec.layout import feature_layout
from mtlrec.models.artifact import load_model
from mtlrec.models.config import ModelConfig
from mtlrec.run import paths
from mtlrec.run.artifact import read_metadata
from mtlrec.run.summary import RunSummary, TableRef
from mtlrec.tracking import RUN_KEY, TrackingError, flat_metrics, local_copy, log_evaluation, model_run
from mtlrec.train.checkpoint import save_state
from mtlrec.train.config import TrainConfig
from mtlrec.train.driver import TrainingResult
from mtlrec.train.objective import build_objective, build_optimizers
from mtlrec.train.publish import LINEAGE, publish

TASKS = ("click", "purchase")
LAYOUT = feature_layout(TASKS)
MODEL = ModelConfig(
    embedding_dim=4,
    hidden_dims=(16,),
    num_experts=2,
    expert_dims=(16,),
    tower_dims=(8,),
    dropout=0.0,
    user_buckets=64,
    item_buckets=32,
    category_buckets=8,
    embedding_overflow_rows=4,
)
KEEP_RATE = 0.25  # trained unweighted on a quarter of the negatives: the correction matters
RUN_ID = "r1"
# epochs count from 0, as the trainer's do: MLflow re-logs a run's step-0 metrics for a new model
BEST = {"epoch": 1, "valid/click_auc": 0.61, "valid/purchase_auc": 0.58, "train/rows": 100}
HISTORY = [{"epoch": 0, "valid/click_auc": 0.55, "train/loss": 0.7}, {"epoch": 1, **BEST}]


def config(root: str, tracking_uri: str) -> Config:
    return Config(
        paths=PathsConfig(root=root),
        model=MODEL,
        train=TrainConfig(tasks=TASKS, reweight_negatives=False),
        features=FeaturesConfig(negative_keep_rate=KEEP_RATE),
        mlflow=MlflowConfig(tracking_uri=tracking_uri, experiment="tests"),
    )


def trained(cfg: Config) -> TrainingResult:
    """A checkpoint as a worker writes it, of a model with weights spread wide."""
    torch.manual_seed(0)
    objective = build_objective(cfg)
    with torch.no_grad():
        for p in objective.parameters():
            p.mul_(3.0)
    folder = f"{paths.ray(cfg.paths.root).removeprefix('file://')}/train-r1/checkpoint_000002"
    save_state(folder, objective, build_optimizers(objective, cfg.train))
    return TrainingResult(checkpoint_path=folder, best=dict(BEST), history=[dict(h) for h in HISTORY])


def summary(cfg: Config) -> RunSummary:
    run = RunSummary.new(cfg.paths.root, cfg.to_dict(), run_id=RUN_ID)
    run.tables = {name: TableRef(paths.table(cfg.paths.root, name), 3) for name in LINEAGE}
    return run


def columns(rows: int, seed: int) -> dict[str, np.ndarray]:
    """Indexes in and beyond each table (the hashed overflow rows), dense values with NaNs."""
    rng = np.random.default_rng(seed)
    out = {f.name: rng.integers(0, 2 * MODEL.buckets(f.source), size=rows) for f in LAYOUT.sparse}
    for c in LAYOUT.dense:
        values = rng.normal(scale=2.0, size=rows)
        values[rng.random(rows) < 0.05] = np.nan
        out[c] = values
    return out


def graph_inputs(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A caller's side: one int64 vector per index column, the dense matrix in layout order."""
    inputs = {c: cols[c].astype(np.int64) for c in LAYOUT.sparse_columns}
    return inputs | {"dense": np.stack([cols[c] for c in LAYOUT.dense], axis=1).astype(np.float32)}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, str]:
    """The tiny model published with tracking on: (config, model folder URI)."""
    tmp = tmp_path_factory.mktemp("tracked")
    cfg = config(f"file://{tmp}/root", f"file://{tmp}/mlruns")
    return cfg, publish(cfg, summary(cfg), trained(cfg))


def client(cfg: Config) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=cfg.mlflow.tracking_uri)


def test_the_logged_model_predicts_the_probabilities_mtlrec_predicts(published: tuple[Config, str]) -> None:
    cfg, out = published
    run_id = model_run(read_metadata(out).record)
    assert run_id is not None
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    cols = columns(2_000, seed=1)

    served = mlflow.pyfunc.load_model(f"runs:/{run_id}/served_model").predict(graph_inputs(cols))

    loaded = load_model(out)
    expected = loaded.predict(cols)
    assert list(served.columns) == ["p_click", "p_purchase"] and len(served) == 2_000
    for task in TASKS:
        assert np.abs(served[f"p_{task}"].to_numpy() - expected[task]).max() < 1e-5, task
    # the comparison above would catch a model without the down-sampling correction
    uncorrected = dataclasses.replace(loaded, metadata=dataclasses.replace(loaded.metadata, keep_rate=1.0))
    assert loaded.keep_rate == KEEP_RATE
    assert np.abs(uncorrected.predict(cols)["click"] - expected["click"]).max() > 0.05


def test_the_logged_model_signature_and_example_name_the_layout_inputs(published: tuple[Config, str]) -> None:
    cfg, out = published
    run_id = model_run(read_metadata(out).record)
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    info = mlflow.models.get_model_info(f"runs:/{run_id}/served_model")

    inputs, outputs = info.signature.inputs, info.signature.outputs
    assert inputs.input_names() == [*LAYOUT.sparse_columns, "dense"] == ["user_idx", "item_idx", "cat_idx", "dense"]
    assert [str(t.type) for t in inputs.inputs] == ["int64"] * 3 + ["float32"]
    assert inputs.inputs[-1].shape == (-1, len(LAYOUT.dense))
    assert outputs.input_names() == ["p_click", "p_purchase"]
    assert info.saved_input_example_info is not None
    example = mlflow.pyfunc.load_model(info.model_uri).input_example
    assert set(example) == set(inputs.input_names())


def test_the_run_holds_settings_epochs_and_the_mtlrec_artifact(published: tuple[Config, str]) -> None:
    cfg, out = published
    run = client(cfg).get_run(str(model_run(read_metadata(out).record)))

    assert run.info.run_name == f"{RUN_ID}-mmoe"
    assert run.data.params["model.embedding_dim"] == "4" and run.data.metrics["best.valid.click_auc"] == 0.61
    history = client(cfg).get_metric_history(run.info.run_id, "valid.click_auc")
    assert sorted((m.step, m.value) for m in history) == [(0, 0.55), (1, 0.61)]  # each epoch once
    model_id = mlflow.models.get_model_info(f"runs:/{run.info.run_id}/served_model").model_id
    tied = {m.key: m.value for m in client(cfg).get_logged_model(model_id).metrics or []}
    assert tied == {
        "best.valid.click_auc": 0.61,
        "best.valid.purchase_auc": 0.58,
        "best.train.rows": 100,
        "best.epoch": 1,
    }
    logged = {Path(f.path).name for f in client(cfg).list_artifacts(run.info.run_id, "model")}
    assert logged == {"model.pt", "metadata.json"}
    # what the README says: download `model/` and load it with mtlrec
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="model", tracking_uri=cfg.mlflow.tracking_uri
    )
    cols = columns(50, seed=3)
    expected = load_model(out).predict(cols)["purchase"]
    np.testing.assert_array_equal(load_model(local).predict(cols)["purchase"], expected)


def test_evaluate_logs_test_metrics_and_the_report_into_the_model_run(published: tuple[Config, str]) -> None:
    cfg, out = published
    report = paths.report(cfg.paths.root, RUN_ID)
    for name in ("report.md", "report.html", "metrics.json", "calibration.png"):
        storage.write_bytes(f"{report}/{name}", name.encode())
    metrics = {
        "test": {"click": {"auc": 0.7, "gauc": float("nan"), "logloss": 0.4}, "purchase": {"auc": 0.65}},
        "ranking": {"mmoe/gmv": {"ndcg": 0.3, "users": 12}, "popular/most popular!": {"ndcg": 0.1}},
        "ranking_k": 5,
        "thresholds": {"click": {"threshold": 0.5, "f1": 0.2}},
        "calibration_curve": {"click": [0.1, 0.2]},
        "note": "text",
    }
    model_run_id = model_run(read_metadata(out).record)

    logged_to = log_evaluation(cfg, model_run_id=model_run_id, run_name=RUN_ID, metrics=metrics, report_dir=report)

    assert logged_to == model_run_id
    run = client(cfg).get_run(str(model_run_id))
    assert run.data.metrics["test.click.auc"] == 0.7 and run.data.metrics["test.purchase.auc"] == 0.65
    assert math.isnan(run.data.metrics["test.click.gauc"])
    assert [m.value for m in client(cfg).get_metric_history(str(model_run_id), "test.click.auc")] == [0.7]
    assert run.data.metrics["ranking.mmoe/gmv.ndcg"] == 0.3 and run.data.metrics["ranking.popular/most popular_.ndcg"]
    assert run.data.metrics["thresholds.click.f1"] == 0.2 and run.data.metrics["best.valid.click_auc"] == 0.61
    reported = {Path(f.path).name for f in client(cfg).list_artifacts(str(model_run_id), "report")}
    assert reported == {"report.md", "report.html", "metrics.json", "calibration.png"}
    assert {Path(f.path).name for f in client(cfg).list_artifacts(str(model_run_id), "model")} >= {"model.pt"}


def test_evaluate_of_a_model_without_an_mlflow_run_starts_one_named_after_the_run(tmp_path: Path) -> None:
    cfg = config(str(tmp_path / "root"), f"file://{tmp_path}/mlruns")
    report = str(tmp_path / "report")
    storage.write_bytes(f"{report}/report.html", b"<html></html>")

    logged_to = log_evaluation(
        cfg, model_run_id=None, run_name="r9", metrics={"test": {"click": {"auc": 0.6}}}, report_dir=report
    )

    run = client(cfg).get_run(str(logged_to))
    experiment = client(cfg).get_experiment_by_name("tests")
    assert experiment is not None and run.info.experiment_id == experiment.experiment_id
    assert run.info.run_name == "r9" and run.data.metrics == {"test.click.auc": 0.6}
    assert [Path(f.path).name for f in client(cfg).list_artifacts(run.info.run_id, "report")] == ["report.html"]


def test_a_model_run_unknown_to_the_tracking_server_gets_a_new_run(tmp_path: Path) -> None:
    cfg = config(str(tmp_path / "root"), f"file://{tmp_path}/mlruns")
    report = str(tmp_path / "report")
    storage.write_bytes(f"{report}/report.md", b"# report")

    logged_to = log_evaluation(cfg, model_run_id="0" * 32, run_name="r9", metrics={}, report_dir=report)

    assert logged_to != "0" * 32 and client(cfg).get_run(str(logged_to)).info.run_name == "r9"


def test_a_tracking_failure_names_the_uri_after_the_model_is_saved(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")  # MLflow cannot create its store under a file
    uri = f"file://{tmp_path}/not-a-folder/mlruns"
    cfg = config(f"file://{tmp_path}/root", uri)

    with pytest.raises(TrackingError, match=f"logging to MLflow at {uri} failed.*the model is saved at file://"):
        publish(cfg, summary(cfg), trained(cfg))

    loaded = load_model(paths.model(cfg.paths.root, RUN_ID))  # complete, and without a run to point to
    assert loaded.keep_rate == KEEP_RATE and RUN_KEY not in loaded.metadata.record
    assert set(loaded.predict(columns(4, seed=2))) == set(TASKS)


def test_a_local_copy_holds_the_folder_files_but_not_its_subfolders(tmp_path: Path) -> None:
    folder = f"file://{tmp_path}/models/r1"
    storage.write_bytes(f"{folder}/model.pt", b"weights")
    storage.write_bytes(f"{folder}/metadata.json", b"{}")
    storage.write_bytes(f"{folder}/baselines/single_task/model.pt", b"another model")

    with local_copy(folder) as local:
        copied = {p.name: p.read_bytes() for p in Path(local).iterdir()}

    assert copied == {"model.pt": b"weights", "metadata.json": b"{}"}
    assert not Path(local).exists()


def test_flat_metrics_keep_numbers_under_dotted_valid_names() -> None:
    nested = {"test": {"click": {"auc": 0.7, "rows": 3}}, "ok": True, "curve": [1.0], "k@5": 5, "name": "x"}

    assert flat_metrics(nested) == {"test.click.auc": 0.7, "test.click.rows": 3.0, "k_5": 5.0}


def test_tracking_off_logs_nothing(tmp_path: Path) -> None:
    cfg = config(f"file://{tmp_path}/root", "")

    out = publish(cfg, summary(cfg), trained(cfg))

    assert RUN_KEY not in read_metadata(out).record
    assert log_evaluation(cfg, model_run_id=None, run_name=RUN_ID, metrics={}, report_dir=str(tmp_path)) is None
    assert not list(tmp_path.glob("**/mlruns"))
