"""`mtlrec train`: train on Ray, then write the model artifact `<root>/models/<run_id>/`."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import Config
from mtlrec.layout import FeatureLayout, feature_layout
from mtlrec.models.artifact import save_model
from mtlrec.ray_cluster import ensure_ray
from mtlrec.schedule import previous_model
from mtlrec.summary import RunSummary, StageReport, new_run_id
from mtlrec.tracking import log_training
from mtlrec.train.driver import TrainingResult, run_training, trained_model_state

log = logging.getLogger(__name__)

# the tables a model is trained from, whose versions its metadata must record
LINEAGE = (S.EVENTS_TABLE, S.USER_FEATURES_TABLE, S.ITEM_FEATURES_TABLE, S.SAMPLES_TABLE)
# tables of later stages, which a model does not come from
DOWNSTREAM = (
    S.RECOMMENDATIONS_TABLE,
    S.BEHAVIOUR_FUNNEL_DAILY_TABLE,
    S.BEHAVIOUR_FUNNEL_CATEGORY_TABLE,
    S.BEHAVIOUR_COHORTS_TABLE,
    S.BEHAVIOUR_CATEGORY_TRENDS_TABLE,
)


def model_path(root: str, run_id: str) -> str:
    return f"{root.rstrip('/')}/models/{run_id}"


def lineage(cfg: Config, summary: RunSummary) -> dict[str, dict[str, Any]]:
    """Path and version of every table the run has so far (vocabulary, feature statistics...)."""
    versions = {name: summary.table_version(name) for name in LINEAGE}
    versions |= {
        name: int(table["version"]) for name, table in summary.data["tables"].items() if name not in DOWNSTREAM
    }
    return {name: {"path": tables.table_path(cfg.paths.root, name), "version": v} for name, v in versions.items()}


def layout_record(layout: FeatureLayout) -> dict[str, Any]:
    return {
        "sparse": [dataclasses.asdict(f) for f in layout.sparse],
        "dense": list(layout.dense),
        "tasks": list(layout.tasks),
    }


def publish(
    cfg: Config,
    summary: RunSummary,
    result: TrainingResult,
    extra: dict[str, Any] | None = None,
    out: str | None = None,
) -> str:
    """Write the best checkpoint as the run's model artifact (or at `out`); returns its folder."""
    out = out or model_path(cfg.paths.root, summary.run_id)
    save_model(
        out,
        trained_model_state(cfg, result.checkpoint_path),
        {
            "run_id": summary.run_id,
            "model": cfg.model.name,
            "config": cfg.to_dict(),
            "layout": layout_record(feature_layout(cfg.model, cfg.train.tasks)),
            "tables": lineage(cfg, summary),
            "checkpoint": result.checkpoint_path,
            "best_epoch": result.best["epoch"],
            "metrics": result.best,
            "history": result.history,
            **(extra or {}),
        },
    )
    log.info("train: best epoch %d, %s", result.best["epoch"], {k: v for k, v in result.best.items() if "auc" in k})
    log_training(
        cfg, run_name=f"{summary.run_id}-{cfg.model.name}", history=result.history, best=result.best, model_dir=out
    )
    return out


BASELINE = "baseline/"  # artifact name prefix of a baseline model


def valid_metrics(result: TrainingResult) -> dict[str, Any]:
    return {k.removeprefix("valid/"): v for k, v in result.best.items() if k.startswith("valid/")}


def report(
    result: TrainingResult, out: str, baselines: dict[str, tuple[TrainingResult, str]] | None = None
) -> StageReport:
    baselines = baselines or {}
    metrics: dict[str, Any] = {"valid": valid_metrics(result)}
    if baselines:
        metrics["baselines_valid"] = {name: valid_metrics(r) for name, (r, _) in baselines.items()}
    return StageReport(
        rows_in=int(result.best["train/rows"]),
        rows_out=None,
        metrics=metrics,
        artifacts={"model": out, **{f"{BASELINE}{name}": path for name, (_, path) in baselines.items()}},
    )


def baseline_models(summary: RunSummary) -> dict[str, str]:
    """Baseline name -> model folder, for the baselines this run trained."""
    artifacts: dict[str, str] = summary.data["artifacts"]
    return {k.removeprefix(BASELINE): v for k, v in artifacts.items() if k.startswith(BASELINE)}


def training_inputs(cfg: Config, summary: RunSummary, kind: str) -> dict[str, Any]:
    """The samples version the run recorded and a fresh Ray run name (never resume an old one)."""
    samples = lineage(cfg, summary)[S.SAMPLES_TABLE]
    ensure_ray(cfg.ray)
    return {
        "samples_path": storage.arrow_uri(samples["path"]),
        "samples_version": samples["version"],
        "storage_path": storage.arrow_uri(f"{cfg.paths.root.rstrip('/')}/ray"),
        "name": f"{kind}-{summary.run_id}-{new_run_id()}",
    }


def run(cfg: Config, summary: RunSummary) -> StageReport:
    init = previous_model(cfg.paths.root, summary.run_id) if cfg.train.warm_start else None
    if cfg.train.warm_start and init is None:
        log.info("train: warm start asked, but no earlier run date has a model: from scratch")
    result = run_training(cfg, **training_inputs(cfg, summary, "train"), init_model=init)
    out = publish(cfg, summary, result, extra={"warm_start": init})
    baselines: dict[str, tuple[TrainingResult, str]] = {}
    for name in cfg.train.baselines:
        if name == cfg.model.name:
            continue
        log.info("train: baseline %s on the same samples", name)
        base_cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, name=name))
        base = run_training(base_cfg, **training_inputs(base_cfg, summary, f"baseline-{name}"))
        baselines[name] = (base, publish(base_cfg, summary, base, out=f"{out}/baselines/{name}"))
    return report(result, out, baselines)
