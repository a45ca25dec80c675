"""`mtlrec ingest`: raw logs of some run dates -> Delta `events`, `quarantine`, `dq_metrics`.

A run date is a `dt=YYYY-MM-DD` folder of the input. Its events land in the partition
of their own date (a late event in an earlier one), tagged with the run date
(`source_dt`); re-ingesting run dates replaces, in one commit, exactly the rows those
run dates wrote before (`replaceWhere` on `source_dt`), so a re-run leaves `events`
identical and a late event is never stored twice. `quarantine` and `dq_metrics` are
partitioned by run date and replaced the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, SparkSession

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.config import Config
from mtlrec.ingest import parse, quality, sources
from mtlrec.ingest import transforms as T
from mtlrec.ingest.sources import IngestError
from mtlrec.mapping import Mapping, load_mapping
from mtlrec.run import paths
from mtlrec.run.metrics import IngestMetrics
from mtlrec.run.summary import RunSummary, StageReport
from mtlrec.spark_session import get_spark

log = logging.getLogger(__name__)


def records(spark: SparkSession, cfg: Config, mapping: Mapping, path: str, dates: Sequence[dt.date]) -> DataFrame:
    """The run dates' records, parsed by the configured format (`parse`)."""
    fmt, sep = cfg.input.format, cfg.input.separator
    files = sources.data_files(spark, path, dates)
    if fmt == "parquet":
        return parse.parquet_records(sources.read_parquet(spark, path, dates, mapping.fields), mapping=mapping)
    lines = sources.read_lines(spark, path, dates)
    if fmt == "json":
        return parse.parse_json_lines(lines, mapping=mapping)
    columns = list(mapping.fields)
    if cfg.input.header:
        header, columns = sources.csv_header(spark, files, sep)
        missing = sorted(set(mapping.fields) - set(columns))
        if missing:
            raise IngestError(f"{files[0]}: header {columns} lacks the mapping's field(s) {missing}")
        lines = parse.drop_lines(lines, line=header)
    return parse.parse_csv_lines(lines, mapping=mapping, columns=columns, separator=sep)


def existing_ids(spark: SparkSession, path: str, dates: Sequence[dt.date], lookback_days: int) -> DataFrame:
    """Ids other run dates already stored, within the lookback (none on a first run)."""
    if not tables.exists(spark, path):
        return spark.createDataFrame([], f"{S.EVENT_ID} string")
    stored = tables.read(spark, path)
    if S.SOURCE_DT not in stored.columns:
        raise IngestError(
            f"the events table at {path} predates ingest's {S.SOURCE_DT} column: "
            "delete it (ingest rebuilds it from the raw logs) or use a new paths.root"
        )
    return T.existing_ids(stored, dates=list(dates), lookback_days=lookback_days)


def validated_records(spark: SparkSession, cfg: Config, mapping: Mapping, path: str, dates: list[dt.date]) -> DataFrame:
    """Every record of the run dates, canonical and validated (bots and duplicates to come)."""
    ic = cfg.ingest
    return T.validate(
        T.canonical(records(spark, cfg, mapping, path, dates), mapping=mapping),
        mapping=mapping,
        fmt=cfg.input.format,
        late_days=ic.late_days,
        clock_skew_minutes=ic.clock_skew_minutes,
        max_price=ic.max_price,
        max_id_length=ic.max_id_length,
    )


def marked_records(
    spark: SparkSession, cfg: Config, mapping: Mapping, validated: DataFrame, dates: list[dt.date]
) -> tuple[DataFrame, list[DataFrame]]:
    """The validated records with bots flagged and duplicates marked, and what it keeps.

    The bots and the contested ids are few: kept and counted first, so the planner
    knows their size and broadcasts them (or not, at a scale where they are many).
    Both come from `validated` alone, each in one narrow aggregation; the marked
    records are not kept, each write re-derives them from `validated`.
    """
    ic = cfg.ingest
    bots = kept(T.bot_users(validated, max_per_minute=ic.bot_events_per_minute), "bot user-days")
    existing = existing_ids(spark, paths.table(cfg.paths.root, S.EVENTS_TABLE), dates, ic.dedup_lookback_days)
    contested = kept(T.contested_ids(validated, existing=existing), "ids seen twice or stored")
    flagged = T.drop_valid_raw(T.flag_bots(validated, bots=bots))
    return T.mark_duplicates(flagged, contested=contested, declared=mapping.declared), [bots, contested]


def kept(df: DataFrame, what: str) -> DataFrame:
    """`df`, computed once and kept: its size is known when it is joined."""
    df = df.persist(StorageLevel.MEMORY_AND_DISK)
    log.info("ingest: %d %s", df.count(), what)
    return df


def event_dates(cfg: Config, dates: Sequence[dt.date]) -> list[dt.date]:
    """The `dt` partitions the events of `dates` may land in."""
    return [min(dates) - dt.timedelta(days=cfg.ingest.late_days), max(dates) + dt.timedelta(days=1)]


@dataclass
class Written:
    """What the writes of `events` and `quarantine` stored, per run date, and their versions.

    Counted on the rows as they go into each write (`DataFrame.observe`, no table read
    back) and checked against the rows Delta says each commit wrote; independent of
    the tally of the marked records, which the balance check compares them with.
    """

    versions: dict[str, int]
    clean: dict[dt.date, int]
    late: dict[dt.date, int]
    quarantined: dict[dt.date, int]
    missing: dict[dt.date, dict[str, int]]  # declared field -> clean events without a value


def observed_write(
    df: DataFrame, counts: list[Column], write: Callable[[DataFrame], int]
) -> tuple[int, dict[str, int]]:
    """Write `df` (`write` returns the new version) while counting `counts` over its rows."""
    seen = Observation()
    version = write(df.observe(seen, *counts))
    return version, {name: int(n) for name, n in seen.get.items()}


def write_tables(marked: DataFrame, cfg: Config, mapping: Mapping, dates: list[dt.date]) -> Written:
    """Store the clean events and the quarantined records of the run dates."""
    spark, root, declared = marked.sparkSession, cfg.paths.root, mapping.declared
    events_path = paths.table(root, S.EVENTS_TABLE)
    held_path = paths.table(root, S.QUARANTINE_TABLE)
    events_version, stored = observed_write(
        T.clean_events(marked, declared),
        T.day_counts(dates, run_date=S.SOURCE_DT, late=True, missing=declared),
        # a mapping that declares a new field adds its column (earlier rows: null)
        lambda df: tables.replace_rows(
            df, events_path, column=S.SOURCE_DT, values=dates, dates=event_dates(cfg, dates), merge_schema=True
        ),
    )
    held_version, held = observed_write(
        T.quarantine(marked),
        T.day_counts(dates, run_date=S.DT),
        lambda df: tables.replace_dates(df, held_path, dates),
    )
    written = Written(
        versions={S.EVENTS_TABLE: events_version, S.QUARANTINE_TABLE: held_version},
        clean={day: stored[day.isoformat()] for day in dates},
        late={day: stored[T.late_name(day)] for day in dates},
        quarantined={day: held[day.isoformat()] for day in dates},
        missing={day: {f: stored[T.missing_name(f, day)] for f in declared} for day in dates},
    )
    errors = [
        *quality.commit_errors(
            events_path,
            sent=sum(written.clean.values()),
            stored=tables.written_rows(spark, events_path, events_version),
        ),
        *quality.commit_errors(
            held_path,
            sent=sum(written.quarantined.values()),
            stored=tables.written_rows(spark, held_path, held_version),
        ),
    ]
    quality.check(errors, "ingest lost records")
    return written


def run(cfg: Config, summary: RunSummary) -> StageReport:
    spark = get_spark(cfg.spark)
    mapping = load_mapping(cfg.input.mapping)
    path = cfg.input.path or paths.raw(cfg.paths.root)
    fmt = cfg.input.format
    with sources.named_read_errors():
        present = sources.input_dates(spark, path)
        dates = sources.run_dates(present, dates=cfg.ingest.dates, date_range=cfg.ingest.date_range, path=path)
        log.info("ingest: %d run date(s) of %s from %s (%s .. %s)", len(dates), fmt, path, dates[0], dates[-1])
        # parsing is the costly part: once, kept; the bots, the contested ids, the tally
        # and both writes are all derived from it
        validated = validated_records(spark, cfg, mapping, path, dates).persist(StorageLevel.MEMORY_AND_DISK)
        cached = [validated]
        try:
            marked, helpers = marked_records(spark, cfg, mapping, validated, dates)
            cached += helpers
            tally = [row.asDict() for row in T.tally(marked).collect()]
            quality.check(quality.unreadable_files(tally, fmt), "wrong input")
            shares = quality.share_errors(quality.per_day(tally, dates), max_share=cfg.ingest.max_quarantine_share)
            quality.check(shares, "too many records quarantined (ingest.max_quarantine_share)")
            written = write_tables(marked, cfg, mapping, dates)
        finally:
            for df in cached:
                df.unpersist()
    days = quality.per_day(tally, dates)
    errors = quality.balance_errors(days, clean=written.clean, quarantined=written.quarantined)
    quality.check(errors, "ingest lost records")
    for day, counts in days.items():
        counts.clean, counts.late, counts.missing = written.clean[day], written.late[day], written.missing[day]
    rows = quality.dq_rows(days, reasons=T.reasons(fmt, mapping.declared), run_id=summary.run_id)
    dq_path = paths.table(cfg.paths.root, S.DQ_METRICS_TABLE)
    versions = {
        **written.versions,
        S.DQ_METRICS_TABLE: tables.replace_dates(
            spark.createDataFrame(rows, S.DQ_METRICS_SCHEMA), dq_path, dates, merge_schema=True
        ),
    }
    totals = quality.totals(days)
    log.info("ingest: %s", totals)
    return StageReport(
        rows_in=totals[S.READ], rows_out=totals[S.CLEAN], tables=versions, metrics=IngestMetrics(**totals)
    )
