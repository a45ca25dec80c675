"""The run summary: what each stage of a run did, and where its outputs are.

Stages talk through tables and artifacts; the summary is how a later stage finds the
exact Delta version or model folder an earlier stage of the same run produced. It is
written to `<root>/runs/<run_id>.json` and copied to `<root>/runs/latest.json`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from mtlrec import storage
from mtlrec.tables import table_path


@dataclass
class StageReport:
    """What one stage hands back to the run: counts, table versions, metrics."""

    rows_in: int | None = None
    rows_out: int | None = None
    tables: dict[str, int] = field(default_factory=dict)  # name -> Delta version
    metrics: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


class RunSummary:
    def __init__(self, root: str, data: dict[str, Any]):
        self.root = root
        self.data = data

    @property
    def run_id(self) -> str:
        return str(self.data["run_id"])

    @classmethod
    def new(cls, root: str, config: dict[str, Any], run_id: str | None = None) -> RunSummary:
        data = {
            "run_id": run_id or new_run_id(),
            "config": config,
            "stages": {},
            "tables": {},
            "metrics": {},
            "artifacts": {},
        }
        return cls(root, data)

    @classmethod
    def load(cls, root: str, run_id: str = "latest") -> RunSummary:
        return cls(root, storage.read_json(_path(root, run_id)))

    @classmethod
    def latest_or_new(cls, root: str, config: dict[str, Any]) -> RunSummary:
        if storage.exists(_path(root, "latest")):
            return cls.load(root)
        return cls.new(root, config)

    def record(self, stage: str, seconds: float, report: StageReport) -> None:
        self.data["stages"][stage] = {
            "seconds": round(seconds, 2),
            "rows_in": report.rows_in,
            "rows_out": report.rows_out,
        }
        for name, version in report.tables.items():
            self.data["tables"][name] = {"path": table_path(self.root, name), "version": version}
        _merge(self.data["metrics"], report.metrics)
        self.data["artifacts"].update(report.artifacts)

    def table_version(self, name: str) -> int:
        try:
            return int(self.data["tables"][name]["version"])
        except KeyError:
            raise LookupError(
                f"run {self.run_id} has no version of table {name!r}: "
                "run the stage that writes it first (or `mtlrec run`)"
            ) from None

    def artifact(self, name: str) -> str:
        try:
            return str(self.data["artifacts"][name])
        except KeyError:
            raise LookupError(f"run {self.run_id} has no {name!r} yet: run the stage that makes it") from None

    @property
    def path(self) -> str:
        return _path(self.root, self.run_id)

    def save(self) -> str:
        path = self.path
        storage.write_json(path, self.data)
        storage.write_json(_path(self.root, "latest"), self.data)
        return path


def _path(root: str, run_id: str) -> str:
    return f"{root.rstrip('/')}/runs/{run_id}.json"


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
