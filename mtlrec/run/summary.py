"""The run summary: what each stage of a run did, and where its outputs are.

Stages talk through tables and artifacts; the summary is how a later stage finds the
exact Delta version or model folder an earlier stage of the same run produced. It is
written atomically to `<root>/runs/<run_id>.json` and copied to `<root>/runs/latest.json`.

The JSON keeps one shape: `run_id`, `config` (a copy for the record, credentials
redacted), `stages` (per stage: seconds, rows in and out, the table versions it
committed and a fingerprint of its inputs), `tables` (name -> path and version),
`metrics` (each stage's metrics dataclass of `mtlrec.run.metrics`, under its own keys) and `artifacts` (name -> folder).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from mtlrec import storage
from mtlrec.run import paths
from mtlrec.run.metrics import FeaturesMetrics, StageMetrics

BASELINE = "baseline/"  # artifact name prefix of a baseline model
MODEL = "model"  # artifact name of the run's model
REPORT = "report"  # artifact name of the evaluation report folder


@dataclass(frozen=True)
class TableRef:
    """A Delta table as a stage committed it: where it is and which version."""

    path: str
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "version": self.version}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TableRef:
        return cls(path=str(raw["path"]), version=int(raw["version"]))


@dataclass
class StageReport:
    """What one stage hands back to the run: counts, table versions, metrics."""

    rows_in: int | None = None
    rows_out: int | None = None
    tables: dict[str, int] = field(default_factory=dict)  # name -> Delta version
    metrics: StageMetrics | None = None  # the stage's own dataclass (`mtlrec.run.metrics`)
    artifacts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StageRecord:
    """A completed stage: written only after every commit of the stage succeeded."""

    seconds: float
    rows_in: int | None
    rows_out: int | None
    tables: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""  # what the stage read (input files, table versions): a change re-runs it

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StageRecord:
        return cls(
            seconds=float(raw["seconds"]),
            rows_in=raw.get("rows_in"),
            rows_out=raw.get("rows_out"),
            tables={k: int(v) for k, v in (raw.get("tables") or {}).items()},
            fingerprint=str(raw.get("fingerprint") or ""),
        )


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


_SECRET_KEY = re.compile(r"secret|token|password|passwd|credential|access[._-]?key", re.IGNORECASE)
_USER_INFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
REDACTED = "***"


def redacted(value: Any, key: str = "") -> Any:
    """A copy of `value` fit to write down: secret-looking keys and URI user info masked."""
    if isinstance(value, dict):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v, key) for v in value]
    if isinstance(value, str):
        if key and _SECRET_KEY.search(key):
            return REDACTED
        return _USER_INFO.sub(rf"\g<scheme>{REDACTED}@", value)
    return value


@dataclass
class RunSummary:
    root: str
    run_id: str
    config: dict[str, Any]
    stages: dict[str, StageRecord] = field(default_factory=dict)
    tables: dict[str, TableRef] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls, root: str, config: dict[str, Any], run_id: str | None = None) -> RunSummary:
        return cls(root=root, run_id=paths.check_run_id(run_id or new_run_id()), config=redacted(config))

    @classmethod
    def load(cls, root: str, run_id: str = paths.LATEST) -> RunSummary:
        location = paths.summary(root, run_id)
        try:
            raw = storage.read_json(location)
        except ValueError as err:
            raise ValueError(
                f"run summary {location} is not valid JSON ({err}): delete it to start the run again"
            ) from err
        return cls.from_dict(root, raw)

    @classmethod
    def exists(cls, root: str, run_id: str) -> bool:
        return storage.exists(paths.summary(root, run_id))

    @classmethod
    def latest_or_new(cls, root: str, config: dict[str, Any]) -> RunSummary:
        if cls.exists(root, paths.LATEST):
            return cls.load(root)
        return cls.new(root, config)

    @classmethod
    def from_dict(cls, root: str, raw: dict[str, Any]) -> RunSummary:
        return cls(
            root=root,
            run_id=paths.check_run_id(str(raw["run_id"])),
            config=dict(raw.get("config") or {}),
            stages={k: StageRecord.from_dict(v) for k, v in (raw.get("stages") or {}).items()},
            tables={k: TableRef.from_dict(v) for k, v in (raw.get("tables") or {}).items()},
            metrics=dict(raw.get("metrics") or {}),
            artifacts={k: str(v) for k, v in (raw.get("artifacts") or {}).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "config": self.config,
            "stages": {k: v.to_dict() for k, v in self.stages.items()},
            "tables": {k: v.to_dict() for k, v in self.tables.items()},
            "metrics": self.metrics,
            "artifacts": self.artifacts,
        }

    def record(self, stage: str, seconds: float, report: StageReport, fingerprint: str = "") -> None:
        """Record a completed stage: its timings, the versions it committed, its metrics."""
        self.stages[stage] = StageRecord(
            seconds=round(seconds, 2),
            rows_in=report.rows_in,
            rows_out=report.rows_out,
            tables=dict(report.tables),
            fingerprint=fingerprint,
        )
        for name, version in report.tables.items():
            self.tables[name] = TableRef(paths.table(self.root, name), int(version))
        if report.metrics is not None:
            _merge(self.metrics, report.metrics.to_dict())
        self.artifacts.update(report.artifacts)

    def forget(self, stages: tuple[str, ...] | list[str]) -> None:
        """Drop the records of `stages` (their outputs are stale): they run again."""
        self.stages = {k: v for k, v in self.stages.items() if k not in stages}

    def table(self, name: str) -> TableRef:
        try:
            return self.tables[name]
        except KeyError:
            raise LookupError(
                f"run {self.run_id} has no version of table {name!r}: "
                "run the stage that writes it first (or `mtlrec run`)"
            ) from None

    def table_version(self, name: str) -> int:
        return self.table(name).version

    def artifact(self, name: str) -> str:
        try:
            return self.artifacts[name]
        except KeyError:
            raise LookupError(f"run {self.run_id} has no {name!r} yet: run the stage that makes it") from None

    def model_path(self) -> str:
        return self.artifact(MODEL)

    def baseline_models(self) -> dict[str, str]:
        """Baseline name -> model folder, for the baselines this run trained."""
        return {k.removeprefix(BASELINE): v for k, v in self.artifacts.items() if k.startswith(BASELINE)}

    def split_rows(self) -> dict[str, int]:
        """Rows of each split of `samples`, as `features` counted them (empty before it ran)."""
        features = FeaturesMetrics.read_from(self.metrics)
        return features.split_rows() if features else {}

    @property
    def path(self) -> str:
        return paths.summary(self.root, self.run_id)

    def save(self) -> str:
        data = self.to_dict()
        storage.write_json(self.path, data)
        storage.write_json(paths.summary(self.root, paths.LATEST), data)
        return self.path


def dated_runs(root: str) -> list[str]:
    """Ids of the dated runs (`YYYYMMDD`) under `root` that have a summary, in date order."""
    ids = (name.removesuffix(".json") for name in storage.list_files(paths.runs(root)) if name.endswith(".json"))
    return sorted(rid for rid in ids if paths.DATED_RUN_ID.match(rid))


def previous_model(root: str, before: str) -> str | None:
    """The model of the latest dated run before run id `before`, if any (a warm start's weights)."""
    for rid in reversed([r for r in dated_runs(root) if r < before]):
        model = RunSummary.load(root, rid).artifacts.get(MODEL)
        if model:
            return model
    return None


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
