"""The report's extras: behaviour tables, the data-quality report and report.html.

Timed apart from `evaluate`'s metrics (`report_extras_seconds`). The behaviour
aggregates of the run's `events` go to their own Delta tables first, before any model
is read (overwritten: they are small and describe the whole log, not the model); only
those aggregates, top-N where they grow with the catalogue, reach the driver for plots.
The data-quality part and report.html follow the metrics.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.evaluation import behaviour as B
from mtlrec.evaluation import quality_report as Q
from mtlrec.evaluation.behaviour_report import BehaviourRows, behaviour_sections
from mtlrec.evaluation.card import model_card
from mtlrec.evaluation.html import Importance, write_html
from mtlrec.evaluation.report import write_plots
from mtlrec.evaluation.sections import Section
from mtlrec.run import paths
from mtlrec.run.artifact import ArtifactMetadata
from mtlrec.run.summary import RunSummary

TOP_CATEGORIES = 15  # categories in the funnel table and on each side of the trends
TREND_MIN_CLICKS = 20  # fewer clicks in both windows together: growth is noise, not a trend
TOP_REASONS = 10


@dataclass(frozen=True)
class Extras:
    seconds: float  # behaviour and data-quality analysis, Delta writes and their plots
    tables: dict[str, int]  # behaviour table -> Delta version
    html: str  # where report.html is


def _rows(df: DataFrame) -> list[dict[str, Any]]:
    return [r.asDict() for r in df.collect()]


def _table(spark: SparkSession, root: str, summary: RunSummary, name: str) -> DataFrame | None:
    """The run's version of a table; the latest when the run has none; None when there is no table."""
    path = paths.table(root, name)
    ref = summary.tables.get(name)
    version = ref.version if ref else None
    return tables.read(spark, path, version) if tables.exists(spark, path) else None


def behaviour(spark: SparkSession, root: str, events: DataFrame) -> tuple[dict[str, int], BehaviourRows]:
    """Write the four behaviour tables from `events`; read back the rows the report shows."""
    outputs: dict[str, Callable[[DataFrame], DataFrame]] = {
        S.BEHAVIOUR_FUNNEL_DAILY_TABLE: B.funnel_daily,
        S.BEHAVIOUR_FUNNEL_CATEGORY_TABLE: B.funnel_by_category,
        S.BEHAVIOUR_COHORTS_TABLE: B.cohorts,
        S.BEHAVIOUR_CATEGORY_TRENDS_TABLE: B.category_trends,
    }
    versions = {name: tables.overwrite(events.transform(fn), paths.table(root, name)) for name, fn in outputs.items()}
    written = {name: tables.read(spark, paths.table(root, name), v) for name, v in versions.items()}
    trends = written[S.BEHAVIOUR_CATEGORY_TRENDS_TABLE].where(
        F.col(S.RECENT_CLICKS) + F.col(S.PREVIOUS_CLICKS) >= F.lit(TREND_MIN_CLICKS)
    )
    rows = BehaviourRows(
        daily=_rows(written[S.BEHAVIOUR_FUNNEL_DAILY_TABLE].orderBy(S.DT)),
        categories=_rows(
            written[S.BEHAVIOUR_FUNNEL_CATEGORY_TABLE].orderBy(F.desc(S.CLICKS), S.CATEGORY_ID).limit(TOP_CATEGORIES)
        ),
        cohorts=_rows(written[S.BEHAVIOUR_COHORTS_TABLE].orderBy(S.COHORT_WEEK, S.WEEK_OFFSET)),
        growing=_rows(
            trends.where(F.col(S.CLICK_GROWTH) > F.lit(1.0))
            .orderBy(F.desc(S.CLICK_GROWTH), S.CATEGORY_ID)
            .limit(TOP_CATEGORIES)
        ),
        shrinking=_rows(
            trends.where(F.col(S.CLICK_GROWTH) < F.lit(1.0))
            .orderBy(S.CLICK_GROWTH, S.CATEGORY_ID)
            .limit(TOP_CATEGORIES)
        ),
        min_clicks=TREND_MIN_CLICKS,
    )
    return versions, rows


@dataclass(frozen=True)
class Behaviour:
    tables: dict[str, int]  # behaviour table -> Delta version
    rows: BehaviourRows  # what the report shows of them
    seconds: float


def write_behaviour(spark: SparkSession, root: str, summary: RunSummary) -> Behaviour:
    """The four behaviour tables of the run's `events`, written, and the rows the report shows."""
    start = time.perf_counter()
    events = tables.read(spark, paths.table(root, S.EVENTS_TABLE), summary.table_version(S.EVENTS_TABLE))
    versions, rows = behaviour(spark, root, events)
    return Behaviour(tables=versions, rows=rows, seconds=time.perf_counter() - start)


def quality(spark: SparkSession, root: str, summary: RunSummary, out_dir: str) -> list[Section]:
    dq = _table(spark, root, summary, S.DQ_METRICS_TABLE)
    held = _table(spark, root, summary, S.QUARANTINE_TABLE)
    if dq is None or held is None:
        return Q.quality_sections([], [], [], out_dir)
    return Q.quality_sections(
        _rows(dq.transform(Q.dq_daily).orderBy(S.DT)),
        _rows(dq.transform(Q.quarantined_by_reason).orderBy(S.DT, F.desc(S.RECORDS), S.REASON)),
        _rows(held.transform(Q.reason_examples).orderBy(F.desc(S.RECORDS), S.REASON).limit(TOP_REASONS)),
        out_dir,
    )


def publish_html(
    spark: SparkSession,
    root: str,
    summary: RunSummary,
    metadata: ArtifactMetadata,
    *,
    title: str,
    metrics: dict[str, Any],
    out: str,
    written: Behaviour,
    importance: Importance | None = None,
) -> Extras:
    """Analyse data quality and write `<out>/report.html` beside report.md.

    `metadata` is the model artifact's metadata, `metrics` evaluate's (with the
    calibration curves), `out` the report folder `publish_report` wrote, `written`
    the behaviour tables `write_behaviour` wrote.
    """
    start = time.perf_counter()
    rows = written.rows
    with tempfile.TemporaryDirectory() as tmp:
        behaviour_part = behaviour_sections(rows, tmp)
        quality_part = quality(spark, root, summary, tmp)
        seconds = written.seconds + time.perf_counter() - start
        days: tuple[dt.date, dt.date] | None = (rows.daily[0][S.DT], rows.daily[-1][S.DT]) if rows.daily else None
        card = model_card(metadata.to_dict(), samples=summary.metrics.get("samples", {}), event_days=days)
        page = write_html(
            os.path.join(tmp, "report.html"),
            title=title,
            metrics=metrics,
            metric_images=write_plots(tmp, metrics=metrics, history=metadata.history),
            card=card,
            behaviour=behaviour_part,
            quality=quality_part,
            importance=importance,
        )
        with open(page, "rb") as f:
            storage.write_bytes(f"{out}/report.html", f.read())
    return Extras(seconds=round(seconds, 2), tables=written.tables, html=f"{out}/report.html")
