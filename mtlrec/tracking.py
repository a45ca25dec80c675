"""Optional MLflow tracking: each training run's params, per-epoch metrics and model.

Off unless `mlflow.tracking_uri` is set (config validation checks MLflow is installed);
mtlrec never imports MLflow otherwise.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from mtlrec.config import Config

log = logging.getLogger(__name__)


def _flat(section: str, values: Mapping[str, Any]) -> dict[str, str]:
    return {f"{section}.{k}": str(v) for k, v in values.items()}


def _numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k.replace("/", "."): float(v) for k, v in metrics.items() if isinstance(v, int | float)}


def log_training(
    cfg: Config, *, run_name: str, history: Sequence[Mapping[str, Any]], best: Mapping[str, Any], model_dir: str
) -> str | None:
    """Log one trained model to MLflow; returns the MLflow run id (None when tracking is off)."""
    if not cfg.mlflow.tracking_uri:
        return None
    if cfg.mlflow.tracking_uri.startswith("file:"):
        # a folder store is what a laptop has; MLflow 3 asks to opt in to it
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    mlflow.set_experiment(cfg.mlflow.experiment)
    settings = cfg.to_dict()
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params({**_flat("model", settings["model"]), **_flat("train", settings["train"])})
        for epoch in history:
            mlflow.log_metrics(_numeric(epoch), step=int(epoch["epoch"]))
        mlflow.log_metrics({f"best.{k}": v for k, v in _numeric(best).items()})
        mlflow.log_artifacts(model_dir.removeprefix("file://"), artifact_path="model")
    log.info(
        "train: logged to MLflow %s, experiment %s, run %s",
        cfg.mlflow.tracking_uri,
        cfg.mlflow.experiment,
        run.info.run_id,
    )
    return str(run.info.run_id)
