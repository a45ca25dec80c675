"""Scheduled runs: one run date at a time (`mtlrec run --date D`), and ranges of them.

A dated run is the run `D` names (run id `YYYYMMDD`, summary `<root>/runs/YYYYMMDD.json`):

- `ingest` reads only the `dt=D` folder of the input;
- `features` rebuilds the days that folder can have written (D - ingest.late_days
  .. D + 1: late events and clock skew) and whatever depends on them;
- `train`, `evaluate` and `score` run once the samples have what they need (a valid
  split to train, a test split to evaluate, a model to score with); before that the
  run says why it skips them, as the first days of a backfill must;
- with `train.warm_start` the model starts from the latest earlier run date's model.

Stages a run date already completed are skipped when the date is run again (after a
failure, the run picks up at the failed stage), unless their inputs changed since
(`fingerprint`: a new file in `dt=D`, another version of a table they read, another
value of a setting they read, the log's mapping included); `--force`
runs them all again, and once one stage runs, every later stage runs too, since its
inputs changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.config import Config
from mtlrec.mapping import load_mapping
from mtlrec.run import fingerprint, paths
from mtlrec.run.summary import MODEL, RunSummary
from mtlrec.spark_session import get_spark

log = logging.getLogger(__name__)

# the stages of a dated run, in order: logs come from the input, never `generate`
DATED_STAGES = ("ingest", "features", "train", "evaluate", "score")
ORDER = ("generate", *DATED_STAGES)
run_id = paths.dated_run_id

# the config sections each stage reads: a changed setting runs the stage again (and
# so every later one, as whenever a stage runs); the keys naming the run's own dates are
# not settings (a dated run sets them)
SETTINGS = {
    "generate": ("generate",),
    "ingest": ("input", "ingest"),
    "features": ("features",),
    "train": ("model", "train"),
    "evaluate": ("evaluate",),
    "score": ("score",),
}
RUN_DATES = {"ingest": ("dates", "date_range"), "features": ("dates",)}


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    if last < first:
        raise ValueError(f"backfill range ends ({last}) before it starts ({first})")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def dated_config(cfg: Config, day: dt.date, event_days: list[dt.date] | None = None) -> Config:
    """`cfg` for the run date `day`: its input folder, and the event days it can touch.

    `event_days` (the days `events` holds after ingest) narrows the features days to
    those with events; before ingest it is unknown and features keeps its own choice.
    """
    cfg = dataclasses.replace(cfg, ingest=dataclasses.replace(cfg.ingest, dates=(day,), date_range=()))
    if event_days is None:
        return cfg
    first = day - dt.timedelta(days=cfg.ingest.late_days)
    touched = tuple(d for d in sorted(event_days) if first <= d <= day + dt.timedelta(days=1))
    return dataclasses.replace(cfg, features=dataclasses.replace(cfg.features, dates=touched))


def event_days(cfg: Config, summary: RunSummary) -> list[dt.date]:
    """The days the run's version of `events` holds (one row per day reaches the driver)."""
    path = paths.table(cfg.paths.root, S.EVENTS_TABLE)
    events = tables.read(get_spark(cfg.spark), path, summary.table_version(S.EVENTS_TABLE))
    return sorted(row[S.DT] for row in events.select(S.DT).distinct().collect())


def skip_reason(stage: str, summary: RunSummary) -> str | None:
    """Why a dated run cannot run `stage` yet (None: it can)."""
    rows = summary.split_rows()
    if stage == "train" and not rows.get("valid"):
        return "no train or valid samples yet (the events do not reach the valid split's days)"
    if stage == "evaluate" and not rows.get("test"):
        return "no test samples yet (the events do not reach the test split's days)"
    if stage in ("evaluate", "score") and MODEL not in summary.artifacts:
        return "no model trained for this date"
    return None


def settings(stage: str, cfg: Config) -> dict[str, object]:
    """The settings `stage` reads (`SETTINGS`), and for ingest the log's mapping itself."""
    raw = cfg.to_dict()
    chosen: dict[str, object] = {
        section: {k: v for k, v in raw[section].items() if k not in RUN_DATES.get(section, ())}
        for section in SETTINGS.get(stage, ())
    }
    if stage == "ingest":  # the file a mapping name stands for may change under the same name
        mapping = dataclasses.asdict(load_mapping(cfg.input.mapping))
        chosen["mapping"] = {k: v for k, v in mapping.items() if k != "name"}  # its content, wherever it is read
    return chosen


def input_fingerprint(stage: str, cfg: Config, summary: RunSummary) -> str:
    """What `stage` is about to read, as `run.fingerprint` states it ("" when unknown)."""
    return fingerprint.with_settings(_inputs(stage, cfg, summary), settings(stage, cfg))


def _inputs(stage: str, cfg: Config, summary: RunSummary) -> str:
    if stage == "generate":
        return "none"  # it reads nothing but its settings
    if stage == "ingest":
        path = cfg.input.path or paths.raw(cfg.paths.root)
        ic = cfg.ingest
        try:
            if ic.date_range:
                dates = days(ic.date_range[0], ic.date_range[1])
            else:
                dates = list(ic.dates) or fingerprint.run_dates(path)
            return fingerprint.input_files(path, dates)
        except (OSError, ValueError) as err:  # a filesystem pyarrow cannot list: unknown, runs again
            log.warning("ingest: no fingerprint of the input files (%s): a re-run of the date ingests again", err)
            return ""
    before = ORDER[: ORDER.index(stage)] if stage in ORDER else ORDER
    records = {name: summary.stages[name] for name in before if name in summary.stages}
    return fingerprint.upstream({name: (r.tables, r.fingerprint) for name, r in records.items()})


def unchanged(stage: str, cfg: Config, summary: RunSummary) -> bool:
    """Whether the run completed `stage` and its inputs are still those it recorded."""
    record = summary.stages.get(stage)
    return (
        record is not None and bool(record.fingerprint) and record.fingerprint == input_fingerprint(stage, cfg, summary)
    )
