"""The model card: what the model was trained on, how, how well it does, and its limits.

`model_card` is the one place that reads the model artifact's metadata (as
`train.stage.publish` writes it) and the run's sample counts; when the artifact format
changes, only it changes. `card_sections` renders a card with evaluate's metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mtlrec.evaluation.report import lift_table, uplift_table
from mtlrec.evaluation.sections import Block, Bullets, Section, Table

SPLITS = ("train", "valid", "test")
OPEN = {"exclude": "left out of the samples", "flag": "kept, flagged `label_open`"}


@dataclass(frozen=True)
class ModelCard:
    model: str
    run_id: str
    tables: dict[str, int]  # table -> Delta version the model was trained from
    windows: dict[str, str]  # split -> its event days, "first .. last"
    rows: dict[str, int]  # split -> samples
    recipe: dict[str, Any]  # "model.<key>" and "train.<key>" -> value
    best_epoch: int | None
    valid: dict[str, float]  # validation metrics at the best epoch
    limits: list[str] = field(default_factory=list)


def _windows(features: Mapping[str, Any], event_days: tuple[dt.date, dt.date] | None) -> dict[str, str]:
    if features.get("valid_start") is None:  # not resolved: an artifact of a rolling split's older train
        rolling = f"the last {features.get('valid_days')} day(s) before test"
        return {"train": "before valid", "valid": rolling, "test": f"the last {features.get('test_days')} day(s)"}
    valid_start = dt.date.fromisoformat(str(features["valid_start"]))
    test_start = dt.date.fromisoformat(str(features["test_start"]))
    first, last = (str(d) for d in event_days) if event_days else ("first event day", "last event day")
    day = dt.timedelta(days=1)
    return {
        "train": f"{first} .. {valid_start - day}",
        "valid": f"{valid_start} .. {test_start - day}",
        "test": f"{test_start} .. {last}",
    }


def _limits(config: Mapping[str, Any], samples: Mapping[str, Mapping[str, Any]]) -> list[str]:
    features, train = config["features"], config["train"]
    keep = float(features["negative_keep_rate"])
    limits = [
        "Users and items unseen in training (or with fewer than"
        f" {features['vocab_min_count']} events in the train days) get the out-of-vocabulary embedding row.",
        "Features describe users and items as of the start of each exposure's day: its own day's behaviour is unseen."
        if features["point_in_time"] == "day"
        else "Features describe users and items as of each exposure's timestamp.",
        "Ranking metrics and recommendations are scored with serving-time feature values (those of one day"
        " for every user), not those of each exposure's own time.",
        "Exposures whose click or attribution window was still open at the run date are"
        f" {OPEN[features['open_windows']]}.",
    ]
    if keep < 1.0 and train["reweight_negatives"]:
        limits.append(f"Non-clicked train exposures kept at rate w = {keep}, each weighted 1 / w in the loss.")
    elif keep < 1.0:
        limits.append(
            f"Probabilities corrected for negative down-sampling at keep rate w = {keep}: q = p / (p + (1 - p) / w)."
        )
    sampled = samples.get("train", {}).get("sampled_share") or 0.0
    if sampled > 0:
        limits.append(
            f"{sampled:.0%} of the train exposures are sampled negatives (the log has no impressions):"
            " click probabilities are relative to sampled exposures, not to real impressions."
        )
    return limits


def model_card(
    metadata: Mapping[str, Any],
    *,
    samples: Mapping[str, Mapping[str, Any]],
    event_days: tuple[dt.date, dt.date] | None = None,
) -> ModelCard:
    """The card of a model from its artifact's metadata (`ArtifactMetadata.to_dict()`) and the
    run's samples per split. The windows and limits come from the pipeline config the
    artifact keeps for the record.

    `samples` is the features stage's `metrics.samples` (split -> rows, label rates,
    sampled share); `event_days` the first and last day of `events`, when known.
    """
    config = metadata["config"]
    recipe = {f"{section}.{k}": v for section in ("model", "train") for k, v in config[section].items()}
    return ModelCard(
        model=str(model["name"]) if isinstance(model := metadata["model"], Mapping) else str(model),
        run_id=str(metadata["run_id"]),
        tables={name: int(t["version"]) for name, t in sorted(metadata["tables"].items())},
        windows=_windows(config["features"], event_days),
        rows={split: int(samples[split]["rows"]) for split in SPLITS if split in samples},
        recipe=recipe,
        best_epoch=metadata.get("best_epoch"),
        valid={
            k.removeprefix("valid/"): float(v) for k, v in metadata.get("metrics", {}).items() if k.startswith("valid/")
        },
        limits=_limits(config, samples),
    )


def card_sections(card: ModelCard, metrics: Mapping[str, Any]) -> list[Section]:
    """The model card as report sections: data, recipe, metrics against the oracle and baselines, limits."""
    data = Table(["split", "event days", "samples"], [[s, card.windows[s], card.rows.get(s)] for s in SPLITS])
    versions = Table(["table", "Delta version"], [[name, v] for name, v in card.tables.items()])
    test, oracle = metrics.get("test", {}), metrics.get("oracle", {})
    performance: list[Block] = [
        f"Best epoch {card.best_epoch} on validation: "
        + ", ".join(f"{k} {v:.4f}" for k, v in card.valid.items() if k.endswith("auc")),
    ]
    if oracle:
        performance += [
            "Test AUC against the oracle (each exposure scored by its true probability):",
            lift_table(test, oracle),
        ]
    else:
        rows = [[task, m["auc"], m["gauc"], m["logloss"]] for task, m in test.items()]
        performance += ["Test metrics (no ground truth for this log):", Table(["task", "AUC", "GAUC", "logloss"], rows)]
    if metrics.get("uplift"):
        performance += ["Uplift over the baselines trained on the same samples:", uplift_table(metrics["uplift"])]
    return [
        Section(
            "Model card",
            [
                f"Model `{card.model}`, trained in run `{card.run_id}`.",
                "Training data: the splits of `samples` and the Delta versions of the tables the model was"
                " trained from.",
                data,
                versions,
            ],
        ),
        Section("Model card: recipe", [Table(["setting", "value"], [[k, _show(v)] for k, v in card.recipe.items()])]),
        Section("Model card: performance", performance),
        Section("Model card: known limits", [Bullets(card.limits)]),
    ]


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
    return str(value)
