"""What `train` and `tune` share: the samples a run trains from, and the artifact it writes.

The artifact (`mtlrec.run.artifact`) carries the model's own settings, the feature
layout and the keep rate its probabilities are corrected for: what scoring needs,
and nothing it would have to re-read from the pipeline config.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.config import Config
from mtlrec.layout import ContextField
from mtlrec.models.artifact import model_config as load_model_config
from mtlrec.models.calibration import keep_rate
from mtlrec.models.config import BUCKETS
from mtlrec.models.sizing import Sizing, size_tables
from mtlrec.ray_cluster import ensure_ray
from mtlrec.run import paths
from mtlrec.run.artifact import ArtifactMetadata, read_metadata, save_artifact, write_metadata
from mtlrec.run.fingerprint import short_hash
from mtlrec.run.metrics import FeaturesMetrics, TrainMetrics
from mtlrec.run.summary import BASELINE, MODEL, RunSummary, StageReport, TableRef, new_run_id
from mtlrec.tracking import RUN_KEY, log_training
from mtlrec.train.driver import TrainingResult, trained_model_state
from mtlrec.train.objective import model_layout

log = logging.getLogger(__name__)

# the tables a model is trained from, whose versions its metadata must record
LINEAGE = (S.EVENTS_TABLE, S.USER_FEATURES_TABLE, S.ITEM_FEATURES_TABLE, S.SAMPLES_TABLE)
# every table of the stages before train: what a model may come from (never a later
# stage's output, such as recommendations or the evaluation's behaviour tables)
UPSTREAM = (
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
)


def lineage(summary: RunSummary) -> dict[str, TableRef]:
    """Path and version of every upstream table the run has (vocabulary, feature statistics...)."""
    for name in LINEAGE:
        summary.table(name)  # raises, naming the stage to run first
    return {name: ref for name, ref in summary.tables.items() if name in UPSTREAM}


def artifact_metadata(
    cfg: Config, summary: RunSummary, result: TrainingResult, record: dict[str, Any]
) -> ArtifactMetadata:
    fc, tc = cfg.features, cfg.train
    return ArtifactMetadata(
        run_id=summary.run_id,
        model=cfg.to_dict()["model"],
        layout=model_layout(cfg).to_dict(),
        keep_rate=keep_rate(reweight_negatives=tc.reweight_negatives, negative_keep_rate=fc.negative_keep_rate),
        tables=lineage(summary),
        history=result.history,
        best=result.best,
        record={"config": cfg.to_dict(), "checkpoint": result.checkpoint_path, **record},
    )


def publish(
    cfg: Config,
    summary: RunSummary,
    result: TrainingResult,
    record: dict[str, Any] | None = None,
    out: str | None = None,
) -> str:
    """Write the best checkpoint as the run's model artifact (or at `out`); returns its folder.

    With MLflow tracking on, then logs it (`mtlrec.tracking.log_training`) and records the
    MLflow run id in the artifact's metadata; a tracking failure raises `TrackingError`
    once the artifact is complete.
    """
    out = out or paths.model(cfg.paths.root, summary.run_id)
    metadata = artifact_metadata(cfg, summary, result, record or {})
    save_artifact(out, trained_model_state(cfg, result.checkpoint_path), metadata)
    log.info("train: best epoch %d, %s", result.best["epoch"], {k: v for k, v in result.best.items() if "auc" in k})
    mlflow_run = log_training(
        cfg,
        run_name=f"{summary.run_id}-{cfg.model.name}",
        history=result.history,
        best=result.best,
        model_dir=out,
        log_model=log_served_model,
    )
    if mlflow_run is not None:  # where `evaluate` logs this model's test metrics and report
        write_metadata(out, dataclasses.replace(metadata, record={**metadata.record, RUN_KEY: mlflow_run}))
    return out


def log_served_model(local_artifact: str) -> str:
    """The artifact as an MLflow model (`serving.pyfunc`) in the active MLflow run; its id."""
    from mtlrec.serving import pyfunc  # imports MLflow: only when tracking is on

    return pyfunc.log_served_model(local_artifact)


def valid_metrics(result: TrainingResult) -> dict[str, Any]:
    return {k.removeprefix("valid/"): v for k, v in result.best.items() if k.startswith("valid/")}


def report(
    result: TrainingResult,
    out: str,
    baselines: dict[str, tuple[TrainingResult, str]] | None = None,
    sizing: Sizing | None = None,
) -> StageReport:
    baselines = baselines or {}
    metrics = TrainMetrics(
        valid=valid_metrics(result),
        baselines_valid={name: valid_metrics(r) for name, (r, _) in baselines.items()},
        embedding_rows={s: sizing.model.buckets(s) for s in BUCKETS} if sizing else {},
        beyond_table=dict(sizing.beyond) if sizing else {},
    )
    return StageReport(
        rows_in=int(result.best["train/rows"]),
        rows_out=None,
        metrics=metrics,
        artifacts={MODEL: out, **{f"{BASELINE}{name}": path for name, (_, path) in baselines.items()}},
    )


def resolved(cfg: Config, summary: RunSummary, init_model: str | None = None) -> tuple[Config, Sizing]:
    """`cfg` as the run's data resolves it: each embedding table sized from the vocabulary
    the run's features built, never smaller than the warm start's (`mtlrec.models.sizing`;
    warns about capped tables), and the split dates features used (rolling windows)."""
    features = FeaturesMetrics.read_from(summary.metrics)
    if features and features.splits:
        starts = {k: dt.date.fromisoformat(features.splits[k]) for k in ("valid_start", "test_start")}
        fc = dataclasses.replace(cfg.features, valid_start=starts["valid_start"], test_start=starts["test_start"])
        cfg = dataclasses.replace(cfg, features=fc)
    if features and features.context:  # the context fields the samples hold
        context = tuple(ContextField(**f) for f in features.context)
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, context=context))
    floor = load_model_config(read_metadata(init_model).model, init_model) if init_model else None
    sizing = size_tables(cfg.model, features.vocabulary if features else {}, at_least=floor)
    for warning in sizing.warnings():
        log.warning("train: %s (raise the cap, or set it to 0 to follow the vocabulary)", warning)
    tables = ", ".join(f"{s} {sizing.model.buckets(s):,}" for s in sizing.vocabulary)
    log.info("train: embedding rows %s", tables or "as configured")
    return dataclasses.replace(cfg, model=sizing.model), sizing


def training_inputs(
    cfg: Config, summary: RunSummary, kind: str, *, init_model: str | None = None, resumable: bool = True
) -> dict[str, Any]:
    """The samples version the run recorded, and the Ray run's name.

    The name is the same for the same run id, settings, samples version and warm start:
    Ray Train restores a run from its name and storage path, so a re-run after a killed
    driver (a scheduler retrying `run --date D`, `train --run-id R`) goes on from that
    run's latest checkpoint, and a re-run of a finished one reads its checkpoints again.
    Anything else starts fresh; so does every run when `resumable` is off (tune).

    Stops with one line naming the split when the train or valid split is empty.
    """
    empty = [split for split in (S.TRAIN, S.VALID) if not summary.split_rows().get(split)]
    if empty and summary.split_rows():
        fc = cfg.features
        raise ValueError(
            f"the {' and '.join(empty)} split of samples v{summary.table_version(S.SAMPLES_TABLE)} is empty "
            f"(train: days before {fc.valid_start}, valid: {fc.valid_start} to {fc.test_start} exclusive; "
            f"features.valid_days {fc.valid_days}, test_days {fc.test_days} roll with the data): "
            "the events do not reach those days, or every exposure there still has an open attribution window "
            f"(features.attribution_hours {fc.attribution_hours})"
        )
    samples = summary.table(S.SAMPLES_TABLE)
    ensure_ray(cfg.ray)
    inputs = [cfg.to_dict(), samples.path, samples.version, init_model]
    attempt = short_hash(inputs) if resumable else new_run_id()
    return {
        "samples_path": storage.arrow_uri(samples.path),
        "samples_version": samples.version,
        "storage_path": storage.arrow_uri(paths.ray(cfg.paths.root)),
        "name": f"{kind}-{summary.run_id}-{attempt}",
    }
