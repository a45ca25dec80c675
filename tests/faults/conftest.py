"""Crash a stage after its k-th Delta commit, run it again, compare its tables with a clean run's.

The crash is injected where every commit of `mtlrec.tables` passes (`tables.committed`):
the commit is real and stays, the stage raises right after it, as a process killed
between two commits would leave the tables. A re-run must give the tables of a run
that never crashed: the same rows, compared by count and a digest of their content
read with `deltalake` (run ids left out, doubles rounded: their sums may differ in
the last bits).

The suite's tiny generated log (`raw_log`: 3 days, ~3000 events, with dirt) serves every
test of the folder as their `input.path`, so the roots differ only in what runs on them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.cli import main
from mtlrec.run import paths
from tests.conftest import TINY

D1, D2, D3 = (dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(3))
SETTINGS = TINY
# columns that name the run that wrote a row, not what the row says
RUN_COLUMNS = {S.RUN_ID, S.MODEL_RUN_ID}


class InjectedCrash(Exception):
    """Raised by the fault hook right after the k-th commit of a stage."""


@contextlib.contextmanager
def commits(crash_after: int | None = None) -> Iterator[list[str]]:
    """Collect the names of the tables committed to, in order; raise after commit `crash_after`."""
    seen: list[str] = []
    real = tables.committed

    def counted(spark: SparkSession, path: str) -> int:
        version = real(spark, path)
        seen.append(path.rstrip("/").rsplit("/", 1)[-1])
        if len(seen) == crash_after:
            raise InjectedCrash(f"injected crash after commit {crash_after}: {seen[-1]} v{version}")
        return version

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tables, "committed", counted)
        try:
            yield seen
        finally:  # what a crashed stage persisted stays cached in this test process's session
            SparkSession.getActiveSession().catalog.clearCache()  # type: ignore[union-attr]


def overrides(root: Path, raw: Path | None = None, settings: list[str] | None = None) -> list[str]:
    """The `--set` arguments of the tiny settings on `root`, reading the logs of `raw`."""
    values = [f"paths.root={root}", *SETTINGS, *(settings or [])]
    if raw is not None:
        values.append(f"input.path={raw}")
    return [a for o in values for a in ("--set", o)]


def mtlrec(root: Path, *args: str, raw: Path | None = None, settings: list[str] | None = None) -> int:
    """`mtlrec <args>` in this process, on `root`, reading the logs of `raw`."""
    return main([*args, *overrides(root, raw, settings)])


def _canonical(value: Any) -> Any:
    """A value as two runs that wrote the same row give it: doubles rounded (their sums
    may differ in the last bits), a map's entries in key order, nested values alike."""
    if isinstance(value, float):
        return round(value, 6) + 0.0  # + 0.0: -0.0 and 0.0 are one value
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):  # arrays; maps come as lists of (key, value) pairs
        items = [_canonical(v) for v in value]
        return tuple(sorted(items) if items and isinstance(value[0], tuple) else items)
    return value


def table_hashes(root: Path, names: list[str] | None = None) -> dict[str, tuple[int, str]]:
    """Table name -> (rows, content digest) of every Delta table under `root` (or of
    `names` only: a crashed run's commits), as they stand.

    Read without Spark (`tables.read_arrow`): about 0.2 s a table as a Spark query in a
    warm session, about 0.01 s so. The digest is of the sorted rows, so two tables agree exactly
    when they hold the same rows, in any order.
    """
    out = {}
    for name in storage.list_dirs(f"{root}/tables") if names is None else names:
        table = tables.read_arrow(paths.table(str(root), name))
        columns = sorted(c for c in table.column_names if c not in RUN_COLUMNS)
        values = [table.column(c).to_pylist() for c in columns]
        if S.SOURCE_FILE in columns:  # the file as the input names it, wherever the input sits
            at = columns.index(S.SOURCE_FILE)
            values[at] = [re.sub(r"^.*/(dt=[^/]+/[^/]+)$", r"\1", v) for v in values[at]]
        rows = sorted(repr(_canonical(list(row))) for row in zip(*values, strict=True))
        out[name] = (table.num_rows, hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


Hashes = Callable[..., dict[str, tuple[int, str]]]


@pytest.fixture(scope="session")
def hashes() -> Hashes:
    """`hashes(root)`: every table's (rows, digest); `hashes(root, names)`: those tables'."""
    return table_hashes


Commits = Callable[..., contextlib.AbstractContextManager[list[str]]]
Cli = Callable[..., int]


@pytest.fixture(scope="session")
def crash() -> Commits:
    """`with crash(k) as seen:` the stage raises `InjectedCrash` after its k-th commit
    (`crash(None)`: only collects the committed tables' names in `seen`)."""
    return commits


@pytest.fixture(scope="session")
def cli_args() -> Callable[..., list[str]]:
    """`cli_args(root, raw, settings)`: the `--set` arguments `cli` passes, for a process of its own."""
    return overrides


@pytest.fixture(scope="session")
def cli() -> Cli:
    """`cli(root, *argv, raw=..., settings=[...])`: `mtlrec` in this process with the tiny settings."""
    return mtlrec


@pytest.fixture(scope="session")
def copy_root() -> Callable[[Path, Path], Path]:
    """`copy_root(source, target)`: a data root copied (Delta tables, summaries and state move along)."""
    return lambda source, target: Path(shutil.copytree(source, target))
