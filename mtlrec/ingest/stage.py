"""`mtlrec ingest`: raw log lines of some dates -> Delta `events` and `quarantine`."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import Config
from mtlrec.ingest import transforms
from mtlrec.spark_session import get_spark
from mtlrec.summary import RunSummary, StageReport

log = logging.getLogger(__name__)


class IngestError(RuntimeError):
    """The input cannot be ingested as configured."""


def input_dates(path: str) -> list[dt.date]:
    """The dates of the `dt=YYYY-MM-DD` folders under `path`."""
    if not storage.exists(path):
        raise IngestError(f"input path {path} does not exist")
    dates = []
    for name in storage.list_dirs(path):
        key, _, value = name.partition("=")
        if key == S.DT:
            try:
                dates.append(dt.date.fromisoformat(value))
            except ValueError:
                raise IngestError(f"{path}/{name}: folder name is not dt=YYYY-MM-DD") from None
    if not dates:
        raise IngestError(f"input path {path} has no dt=YYYY-MM-DD folders")
    return dates


def read_lines(spark: SparkSession, path: str, dates: list[dt.date]) -> DataFrame:
    """The text lines of the given dates with their source file and `dt`."""
    folders = [f"{path}/{S.DT}={d.isoformat()}" for d in dates]
    return (
        spark.read.option("basePath", path)
        .text(folders)
        .select("value", F.col("_metadata.file_path").alias(S.SOURCE_FILE), F.col(S.DT).cast("date"))
    )


def run(cfg: Config, summary: RunSummary) -> StageReport:
    spark = get_spark(cfg.spark)
    path = cfg.input.path or tables.raw_path(cfg.paths.root)
    present = input_dates(path)
    dates = sorted(cfg.ingest.dates or present)
    absent = sorted(set(dates) - set(present))
    if absent:
        raise IngestError(f"input path {path} has no folder for {', '.join(map(str, absent))}")
    log.info("ingest: %d date(s) from %s (%s .. %s)", len(dates), path, dates[0], dates[-1])

    parsed = transforms.parse_json_lines(read_lines(spark, path, dates)).persist(StorageLevel.MEMORY_AND_DISK)
    events = transforms.drop_duplicates(transforms.valid_events(parsed))
    root = cfg.paths.root
    events_version = tables.replace_dates(events, tables.table_path(root, S.EVENTS_TABLE), dates)
    quarantine_version = tables.replace_dates(
        transforms.quarantine(parsed), tables.table_path(root, S.QUARANTINE_TABLE), dates
    )
    read = parsed.count()
    quarantined = {
        row[S.REASON]: int(row["n"])
        for row in parsed.where(F.col(S.REASON).isNotNull())
        .groupBy(S.REASON)
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    }
    valid = transforms.valid_events(parsed).count()
    clean = events.count()
    parsed.unpersist()
    quality: dict[str, Any] = {
        "read": read,
        "clean": clean,
        "duplicates": valid - clean,
        "quarantined": quarantined,
    }
    # every line read is an event, a duplicate of one, or in quarantine
    if read != clean + (valid - clean) + sum(quarantined.values()):
        raise IngestError(
            f"ingest lost records: read {read} != clean {clean} + duplicates {valid - clean}"
            f" + quarantined {sum(quarantined.values())}"
        )
    log.info("ingest: %s", quality)
    return StageReport(
        rows_in=read,
        rows_out=clean,
        tables={S.EVENTS_TABLE: events_version, S.QUARANTINE_TABLE: quarantine_version},
        metrics={"ingest": quality},
    )
