"""`mtlrec train`: train on Ray, then write the model artifact `<root>/models/<run_id>/`."""

from __future__ import annotations

import dataclasses
import logging

from mtlrec.config import Config
from mtlrec.run import paths
from mtlrec.run.summary import RunSummary, StageReport, previous_model
from mtlrec.train.driver import TrainingResult, run_training
from mtlrec.train.publish import publish, report, resolved, training_inputs

log = logging.getLogger(__name__)


def run(cfg: Config, summary: RunSummary) -> StageReport:
    init = previous_model(cfg.paths.root, summary.run_id) if cfg.train.warm_start else None
    if cfg.train.warm_start and init is None:
        log.info("train: warm start asked, but no earlier run date has a model: from scratch")
    cfg, sizing = resolved(cfg, summary, init)
    result = run_training(cfg, **training_inputs(cfg, summary, "train", init_model=init), init_model=init)
    out = publish(cfg, summary, result, record={"warm_start": init})
    baselines: dict[str, tuple[TrainingResult, str]] = {}
    for name in cfg.train.baselines:
        if name == cfg.model.name:
            continue
        log.info("train: baseline %s on the same samples", name)
        base_cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, name=name))
        base = run_training(base_cfg, **training_inputs(base_cfg, summary, f"baseline-{name}"))
        location = paths.baseline_model(cfg.paths.root, summary.run_id, name)
        baselines[name] = (base, publish(base_cfg, summary, base, out=location))
    return report(result, out, baselines, sizing)
