"""`mtlrec tune`: Ray Tune over the train stage's own training, then the best trial's model.

Each trial is one `run_training` (a Ray Train run, early stopping and fault tolerance
included) of the config with one draw of `tune.space` applied as overrides, e.g.

    tune:
      method: random
      samples: 8
      space:
        train.lr: [0.001, 0.003, 0.01]
        model.name: [mmoe, ple]

Trials are compared by their best validation epoch (`train.select_metric`). The best
trial's best epoch becomes the run's model, as `mtlrec train` would have written it,
with `tune.json` next to it: the winning overrides, config and metrics, and every
trial's result.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ray.tune
from ray.tune.integration.ray_train import TuneReportCallback

from mtlrec import storage
from mtlrec.config import Config, config_from_dict, with_overrides
from mtlrec.run.summary import RunSummary, StageReport
from mtlrec.train.config import TuneConfig
from mtlrec.train.driver import TrainingResult, best_epoch, run_training
from mtlrec.train.publish import publish, report, resolved, training_inputs

log = logging.getLogger(__name__)

TUNE_RESULT = "tune.json"
TRIAL_METRIC = "best_value"  # each report carries the trial's best select_metric so far


@dataclass(frozen=True)
class TuneResult:
    overrides: dict[str, str]  # the best trial's draw of the search space
    config: Config  # the config with those overrides
    training: TrainingResult  # the best trial's epochs
    trials: list[dict[str, Any]]  # every trial: overrides and best value (or error)


def overrides(params: Mapping[str, Any]) -> list[str]:
    return [f"{key}={value}" for key, value in params.items()]


def search_space(tc: TuneConfig, cfg: Config) -> dict[str, Any]:
    """Tune's search space; every candidate value is checked against the config first."""
    if not tc.space:
        raise ValueError("tune.space is empty: name at least one key and its candidate values")
    for key, values in tc.space.items():
        for value in values:
            with_overrides(cfg, [f"{key}={value}"], source=f"tune.space[{key}]")
    sample = ray.tune.grid_search if tc.method == "grid" else ray.tune.choice
    return {key: sample(list(values)) for key, values in tc.space.items()}


def _trial(
    params: dict[str, Any], *, cfg: dict[str, Any], samples: dict[str, Any], storage_path: str, name: str
) -> None:
    trial_cfg = with_overrides(config_from_dict(cfg), overrides(params), source="tune trial")
    run_training(
        trial_cfg,
        samples_path=samples["path"],
        samples_version=samples["version"],
        storage_path=storage_path,
        name=f"{name}-{ray.tune.get_context().get_trial_id()}",
        callbacks=[TuneReportCallback()],
    )


def tune_training(cfg: Config, *, samples_path: str, samples_version: int, storage_path: str, name: str) -> TuneResult:
    """Run the trials `cfg.tune` describes and return the best one."""
    tc, mode = cfg.tune, cfg.train.select_mode
    trainable = ray.tune.with_parameters(
        _trial,
        cfg=cfg.to_dict(),
        samples={"path": samples_path, "version": samples_version},
        storage_path=storage_path,
        name=name,
    )
    tuner = ray.tune.Tuner(
        trainable,
        param_space=search_space(tc, cfg),
        tune_config=ray.tune.TuneConfig(
            metric=TRIAL_METRIC, mode=mode, num_samples=tc.samples, max_concurrent_trials=tc.max_concurrent
        ),
        run_config=ray.tune.RunConfig(name=name, storage_path=storage_path),
    )
    grid = tuner.fit()
    results = [grid[i] for i in range(len(grid))]
    trials = [
        {
            "overrides": dict(r.config or {}),
            TRIAL_METRIC: (r.metrics or {}).get(TRIAL_METRIC),
            "error": None if r.error is None else str(r.error),
        }
        for r in results
    ]
    finished = [r for r in results if r.error is None and r.metrics and r.metrics.get(TRIAL_METRIC) is not None]
    if not finished:
        raise RuntimeError(f"every tune trial failed: {[t['error'] for t in trials]}")
    best = grid.get_best_result(metric=TRIAL_METRIC, mode=mode)
    params = {key: str(value) for key, value in (best.config or {}).items()}
    run_dir = f"{storage_path.rstrip('/')}/{name}-{(best.metrics or {})['trial_id']}"
    best_cfg = with_overrides(cfg, overrides(params), source="best tune trial")
    training = best_epoch(run_dir, best_cfg.train.select_metric, mode)
    return TuneResult(overrides=params, config=best_cfg, training=training, trials=trials)


def run(cfg: Config, summary: RunSummary) -> StageReport:
    cfg, sizing = resolved(cfg, summary)
    result = tune_training(cfg, **training_inputs(cfg, summary, "tune", resumable=False))
    outcome: dict[str, Any] = {
        "metric": cfg.train.select_metric,
        "mode": cfg.train.select_mode,
        "best": {
            "overrides": result.overrides,
            "config": result.config.to_dict(),
            "metrics": result.training.best,
        },
        "trials": result.trials,
    }
    out = publish(result.config, summary, result.training, record={"tune": result.overrides})
    storage.write_json(f"{out}/{TUNE_RESULT}", outcome)
    log.info("tune: best of %d trials %s, %s", len(result.trials), result.overrides, result.training.best[TRIAL_METRIC])
    stage = report(result.training, out, sizing=sizing)
    stage.artifacts["tune"] = f"{out}/{TUNE_RESULT}"
    return stage
