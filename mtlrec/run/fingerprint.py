"""Fingerprints of what a stage read, so that a run date re-runs a stage whose inputs changed.

`ingest` reads files: its fingerprint is every input file of its run dates (path,
size, modification time), so a late file landing in `dt=D` after D's run changes it.
Later stages read tables other stages committed: their fingerprint is the table
versions (and fingerprints) the run summary recorded for those stages. Either way the
settings the stage reads go in too. Equal fingerprints mean the same inputs; an empty
one means unknown, and never matches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from mtlrec import storage

_DT = "dt"  # the run-date folders of an input: dt=YYYY-MM-DD


def short_hash(value: Any) -> str:
    """24 hex digits of the SHA-256 of `value` as canonical JSON."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def digest(kind: str, value: Any) -> str:
    """`kind:` and a short hash of `value` as canonical JSON."""
    return f"{kind}:{short_hash(value)}"


def run_dates(path: str) -> list[dt.date]:
    """The dates of the `dt=YYYY-MM-DD` folders under `path` (others ignored)."""
    found = []
    for name in storage.list_dirs(path):
        key, _, value = name.partition("=")
        if key != _DT:
            continue
        try:
            found.append(dt.date.fromisoformat(value))
        except ValueError:
            continue  # ingest fails on it, naming the folder; no fingerprint needed
    return sorted(found)


def input_files(path: str, dates: Sequence[dt.date]) -> str:
    """Every file of the run dates' folders under `path`: name, size and mtime."""
    base = path.rstrip("/")
    files = {day.isoformat(): storage.file_stats(f"{base}/{_DT}={day.isoformat()}") for day in sorted(set(dates))}
    return digest("files", {"path": base, "dates": files})


def with_settings(inputs: str, settings: Any) -> str:
    """The fingerprint of `inputs` read with `settings` ("" stays unknown)."""
    return digest("read", {"inputs": inputs, "settings": settings}) if inputs else ""


def upstream(records: Mapping[str, tuple[Mapping[str, int], str]]) -> str:
    """Stage -> (table versions it committed, its own fingerprint), of the stages read from."""
    return digest("tables", {name: [dict(versions), fp] for name, (versions, fp) in records.items()})
