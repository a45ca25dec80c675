"""The model artifact: a folder with `model.pt` (tensors only) and `metadata.json`.

The metadata holds what the model needs and no more (format 2):

- `model`: the model's own settings (the `model` config section it was built with);
- `layout`: which input column feeds which tensor slot (`layout.FeatureLayout`);
- `calibration.keep_rate`: the rate of kept non-clicked exposures its probabilities
  must be corrected for (1.0: none);
- `inputs.beyond_table`: what an index beyond an embedding table means, `hashed`
  (an overflow row) or `oov` (the out-of-vocabulary row 0);

and, for the record, the Delta versions it was trained from (`tables`), its epochs
(`history`, `best`), the run, a redacted copy of the pipeline config (`config`) and,
with MLflow tracking on, the MLflow run the model was logged to (`mlflow_run_id`).
Loading never parses that copy, so a model outlives changes to the pipeline config.

Format 1 (before the format number) stored only the whole pipeline config; it is
migrated on read: its `model` section, its layout, the keep rate its `train` and
`features` sections imply, and `beyond_table: oov`, since its samples cut every index
beyond the table to 0 before the model saw it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import torch

from mtlrec import storage
from mtlrec.run.summary import TableRef, redacted

FORMAT = 2
WEIGHTS = "model.pt"
METADATA = "metadata.json"
HASHED, OOV_ROW = "hashed", "oov"


@dataclass(frozen=True)
class ArtifactMetadata:
    run_id: str
    model: dict[str, Any]  # the `model` config section the weights were built with
    layout: dict[str, Any]  # `FeatureLayout.to_dict()`
    keep_rate: float = 1.0
    beyond_table: str = HASHED
    tables: dict[str, TableRef] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)  # for people: config copy, warm start, checkpoint
    format: int = FORMAT

    @property
    def name(self) -> str:
        return str(self.model.get("name", ""))

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.layout["tasks"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "run_id": self.run_id,
            "model": self.model,
            "layout": self.layout,
            "calibration": {"keep_rate": self.keep_rate},
            "inputs": {"beyond_table": self.beyond_table},
            "tables": {k: v.to_dict() for k, v in self.tables.items()},
            "best_epoch": self.best.get("epoch"),
            "metrics": self.best,
            "history": self.history,
            **redacted(self.record),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = METADATA) -> ArtifactMetadata:
        version = int(raw.get("format", 1))
        if version > FORMAT:
            raise ValueError(f"{source}: model artifact format {version} is newer than this mtlrec reads ({FORMAT})")
        if version == 1:
            raw = _migrated_v1(raw, source)
        known = {
            "format",
            "run_id",
            "model",
            "layout",
            "calibration",
            "inputs",
            "tables",
            "best_epoch",
            "metrics",
            "history",
        }
        return cls(
            run_id=str(raw.get("run_id", "")),
            model=dict(raw["model"]),
            layout=dict(raw["layout"]),
            keep_rate=float(raw["calibration"]["keep_rate"]),
            beyond_table=str(raw["inputs"]["beyond_table"]),
            tables={k: TableRef.from_dict(v) for k, v in (raw.get("tables") or {}).items()},
            history=list(raw.get("history") or []),
            best=dict(raw.get("metrics") or {}),
            record={k: v for k, v in raw.items() if k not in known},
            format=FORMAT,
        )


def _migrated_v1(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """A format-1 metadata dict in format 2's keys (see the module docstring)."""
    try:
        config = raw["config"]
        train, features = config.get("train", {}), config.get("features", {})
        reweight = bool(train.get("reweight_negatives", True))
        layout = raw["layout"]
    except (KeyError, AttributeError) as err:
        raise ValueError(f"{source}: not a model artifact (format 1 without {err})") from err
    sparse = [{"name": f["name"], "source": f["source"]} for f in layout["sparse"]]
    return {
        **raw,
        "model": config["model"],
        "layout": {"sparse": sparse, "dense": layout["dense"], "tasks": layout["tasks"]},
        "calibration": {"keep_rate": 1.0 if reweight else float(features.get("negative_keep_rate", 1.0))},
        "inputs": {"beyond_table": OOV_ROW},
    }


def save_artifact(path: str, state_dict: dict[str, torch.Tensor], metadata: ArtifactMetadata) -> None:
    """Write the weights, then the metadata: a folder with metadata is complete."""
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    storage.write_bytes(f"{path}/{WEIGHTS}", buffer.getvalue())
    write_metadata(path, metadata)


def write_metadata(path: str, metadata: ArtifactMetadata) -> None:
    """(Re)write the metadata of the artifact at `path`, whose weights are already there."""
    storage.write_json(f"{path}/{METADATA}", metadata.to_dict())


def read_metadata(path: str) -> ArtifactMetadata:
    source = f"{path}/{METADATA}"
    return ArtifactMetadata.from_dict(storage.read_json(source), source=source)


def read_weights(path: str) -> dict[str, torch.Tensor]:
    """The state dict of the artifact at `path`: tensors only (`weights_only=True`), no code runs."""
    state: dict[str, torch.Tensor] = torch.load(io.BytesIO(storage.read_bytes(f"{path}/{WEIGHTS}")), weights_only=True)
    return state
