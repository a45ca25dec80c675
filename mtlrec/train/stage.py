"""`mtlrec train`: train on Ray, then write the model artifact `<root>/models/<run_id>/`."""

from __future__ import annotations

import io
import logging

import torch

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import Config
from mtlrec.models.artifact import save_model
from mtlrec.ray_cluster import ensure_ray
from mtlrec.summary import RunSummary, StageReport
from mtlrec.train.driver import run_training

log = logging.getLogger(__name__)

# the tables a model is trained from, whose versions its metadata records
LINEAGE = (S.EVENTS_TABLE, S.USER_FEATURES_TABLE, S.ITEM_FEATURES_TABLE, S.SAMPLES_TABLE)


def model_path(root: str, run_id: str) -> str:
    return f"{root.rstrip('/')}/models/{run_id}"


def run(cfg: Config, summary: RunSummary) -> StageReport:
    root = cfg.paths.root
    versions = {name: summary.table_version(name) for name in LINEAGE}
    ensure_ray(cfg.ray)
    result = run_training(
        cfg,
        samples_path=storage.arrow_uri(tables.table_path(root, S.SAMPLES_TABLE)),
        samples_version=versions[S.SAMPLES_TABLE],
        storage_path=storage.arrow_uri(f"{root.rstrip('/')}/ray"),
        name=f"train-{summary.run_id}",
    )
    state = torch.load(io.BytesIO(storage.read_bytes(result.weights_path)), weights_only=True)
    out = model_path(root, summary.run_id)
    save_model(
        out,
        state,
        {
            "run_id": summary.run_id,
            "model": cfg.model.name,
            "config": cfg.to_dict(),
            "tables": {name: {"path": tables.table_path(root, name), "version": v} for name, v in versions.items()},
            "best_epoch": result.best["epoch"],
            "metrics": result.best,
            "history": result.history,
        },
    )
    log.info("train: best epoch %d, %s", result.best["epoch"], {k: v for k, v in result.best.items() if "auc" in k})
    return StageReport(
        rows_in=int(result.best["train/rows"]),
        rows_out=None,
        metrics={"valid": {k.removeprefix("valid/"): v for k, v in result.best.items() if k.startswith("valid/")}},
        artifacts={"model": out},
    )
