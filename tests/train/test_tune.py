"""`mtlrec tune` over a two-point grid: one Ray Train run per trial, the best one published."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from mtlrec import schema as S
from mtlrec.config import ConfigError, PathsConfig
from mtlrec.models import collate
from mtlrec.models.artifact import load_model
from mtlrec.run import paths
from mtlrec.run.summary import RunSummary, TableRef
from mtlrec.train import tune
from mtlrec.train.config import TuneConfig
from mtlrec.train.publish import LINEAGE


def test_a_search_space_value_of_the_wrong_type_fails_before_any_trial(tiny: Any) -> None:
    cfg = dataclasses.replace(tiny.config(), tune=TuneConfig(space={"train.epochs": ("2", "many")}))

    with pytest.raises(ConfigError, match=r"train\.epochs"):
        tune.search_space(cfg.tune, cfg)


@pytest.mark.slow
def test_tune_trains_each_grid_point_and_publishes_the_best_trial_with_its_config(
    ray_local: None, samples_table: str, tiny: Any, tmp_path: Path
) -> None:
    shutil.copytree(samples_table, tmp_path / "tables" / S.SAMPLES_TABLE)
    cfg = dataclasses.replace(
        tiny.config(workers=1, epochs=1),
        paths=PathsConfig(root=str(tmp_path)),
        tune=TuneConfig(method="grid", samples=1, space={"train.lr": ("0.0001", "0.05")}),
    )
    summary = RunSummary.new(str(tmp_path), cfg.to_dict(), run_id="tuned")
    summary.tables = {name: TableRef(paths.table(str(tmp_path), name), 0) for name in LINEAGE}

    report = tune.run(cfg, summary)

    outcome = json.loads(Path(report.artifacts["tune"]).read_text())
    trials = outcome["trials"]
    assert sorted(t["overrides"]["train.lr"] for t in trials) == ["0.0001", "0.05"]
    assert all(t["error"] is None for t in trials)
    best = max(trials, key=lambda t: t[tune.TRIAL_METRIC])
    assert outcome["best"]["overrides"] == best["overrides"]
    assert outcome["best"]["metrics"]["valid/mean_auc"] == best[tune.TRIAL_METRIC]
    loaded = load_model(report.artifacts["model"])  # next to tune.json
    assert loaded.metadata.record["config"]["train"]["lr"] == float(best["overrides"]["train.lr"])
    assert loaded.metadata.record["tune"] == best["overrides"]
    columns = {c: torch.zeros(2).numpy() for c in (*loaded.layout.columns, *loaded.layout.tasks)}
    assert set(loaded.model(collate(columns, loaded.layout))) == set(tiny.tasks)
