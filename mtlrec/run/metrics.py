"""Each stage's metrics, one dataclass per stage, as the run summary records them.

A stage hands its dataclass to the run (`StageReport.metrics`); the summary's JSON
keeps `to_dict()` under the stage's own keys (`ingest`, `samples` and `features`,
`valid`, `test`, `score`, ...), and a later reader gets them back typed with
`<Class>.read(summary.metrics)` instead of walking key paths.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

TaskMetrics = dict[str, float]  # auc, gauc, logloss, calibration, base_rate, ... of one task


class StageMetrics(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def _fields(cls: type, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of `raw` that are fields of dataclass `cls` (older summaries may lack some)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in raw.items() if k in names}


@dataclass(frozen=True)
class GenerateMetrics:
    lines: dict[str, int]  # lines written by kind (clean, duplicate, malformed, ...)

    def to_dict(self) -> dict[str, Any]:
        return {"generate": {"lines": dict(self.lines)}}


@dataclass(frozen=True)
class IngestMetrics:
    dates: list[str]
    read: int
    clean: int
    duplicates: int
    late: int
    quarantined: dict[str, int]  # reason -> records
    missing: dict[str, int] = field(default_factory=dict)  # declared field -> clean events without it

    def to_dict(self) -> dict[str, Any]:
        return {"ingest": dataclasses.asdict(self)}

    @classmethod
    def read_from(cls, metrics: Mapping[str, Any]) -> IngestMetrics | None:
        raw = metrics.get("ingest")
        return cls(**_fields(cls, raw)) if raw else None


@dataclass(frozen=True)
class SplitMetrics:
    """One split of `samples`: its rows, weight, and per label and flag its rate or share."""

    rows: int
    weight: float = 0.0
    rates: dict[str, float | None] = field(default_factory=dict)  # `<label>_rate`, `<flag>_share`

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "weight": self.weight, **self.rates}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SplitMetrics:
        rest = {k: v for k, v in raw.items() if k not in ("rows", "weight")}
        return cls(rows=int(raw.get("rows") or 0), weight=float(raw.get("weight") or 0.0), rates=rest)


@dataclass(frozen=True)
class FeaturesMetrics:
    samples: dict[str, SplitMetrics]  # split -> its metrics
    scoring_date: str = ""
    built: dict[str, list[str]] = field(default_factory=dict)  # daily / features / samples -> days
    full_rebuild: bool = False
    splits: dict[str, str] = field(default_factory=dict)  # valid_start, test_start (ISO dates) of these samples
    vocabulary: dict[str, dict[str, int]] = field(default_factory=dict)  # id feature -> size, last_index
    leakage_auc: dict[str, Any] = field(default_factory=dict)
    # the samples' context fields (`layout.ContextField.to_dict()`), serving values resolved
    context: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        info = dataclasses.asdict(self)
        info.pop("samples")
        return {"samples": {k: v.to_dict() for k, v in self.samples.items()}, "features": info}

    @classmethod
    def read_from(cls, metrics: Mapping[str, Any]) -> FeaturesMetrics | None:
        if "samples" not in metrics:
            return None
        samples = {k: SplitMetrics.from_dict(v) for k, v in (metrics.get("samples") or {}).items()}
        return cls(samples=samples, **_fields(cls, metrics.get("features") or {}))

    def split_rows(self) -> dict[str, int]:
        return {split: m.rows for split, m in self.samples.items()}


@dataclass(frozen=True)
class TrainMetrics:
    valid: dict[str, float]  # the best step's validation metrics (`click_auc`, ...)
    baselines_valid: dict[str, dict[str, float]] = field(default_factory=dict)
    embedding_rows: dict[str, int] = field(default_factory=dict)  # id column -> rows of its table
    beyond_table: dict[str, int] = field(default_factory=dict)  # id column -> indexes beyond its table

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"valid": dict(self.valid)}
        if self.baselines_valid:
            out["baselines_valid"] = {k: dict(v) for k, v in self.baselines_valid.items()}
        if self.embedding_rows:
            out["train"] = {"embedding_rows": self.embedding_rows, "beyond_table": self.beyond_table}
        return out


@dataclass(frozen=True)
class EvaluateMetrics:
    test: dict[str, TaskMetrics]  # task -> metrics on the test split
    ranking_k: int
    ranking: dict[str, dict[str, float]]  # `<model>/<strategy>` -> precision, recall, ndcg, ...
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    baselines: dict[str, dict[str, TaskMetrics]] = field(default_factory=dict)
    uplift: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # baseline -> task -> delta
    oracle: dict[str, dict[str, float]] = field(default_factory=dict)  # task -> auc of the known truth
    ranking_seconds: float = 0.0  # the top-K lists of every model and strategy, and their metrics
    importance_seconds: float = 0.0
    report_extras_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def read_from(cls, metrics: Mapping[str, Any]) -> EvaluateMetrics | None:
        if "test" not in metrics:
            return None
        return cls(**{"ranking_k": 0, "ranking": {}, **_fields(cls, metrics)})


@dataclass(frozen=True)
class ScoreMetrics:
    date: str
    users: int
    pairs: int
    # users by the feature row they were scored from: the day's own, their last known, none
    users_by_row: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"score": dataclasses.asdict(self)}


@dataclass(frozen=True)
class ExportMetrics:
    format: str
    file: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"export": dataclasses.asdict(self)}
