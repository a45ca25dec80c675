"""`mtlrec generate`: write a synthetic dirty raw log, its manifest and its ground truth."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import Config
from mtlrec.generate import dirt, logs, realistic, render
from mtlrec.generate.config import GenerateConfig
from mtlrec.run import paths
from mtlrec.run.metrics import GenerateMetrics
from mtlrec.run.summary import RunSummary, StageReport
from mtlrec.spark_session import get_spark

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"  # next to the dt= folders; Spark and Hadoop skip `_` files


def manifest_path(raw: str) -> str:
    return f"{raw.rstrip('/')}/{MANIFEST}"


# impressions with their true probabilities, by `generate.profile`
IMPRESSIONS: dict[str, Callable[[SparkSession, GenerateConfig], DataFrame]] = {
    "default": logs.impressions,
    "realistic": realistic.impressions,
}


def impressions(spark: SparkSession, gen: GenerateConfig) -> DataFrame:
    return IMPRESSIONS[gen.profile](spark, gen)


def truth(gen: GenerateConfig, imps: DataFrame) -> DataFrame:
    """The truth table: true probabilities, and the context they depend on (realistic)."""
    return logs.truth(imps, context=realistic.TRUTH_CONTEXT if gen.profile == "realistic" else ())


def bot_events(spark: SparkSession, gen: GenerateConfig) -> DataFrame:
    if gen.profile == "default":
        return logs.bot_events(spark, gen)
    extra = realistic.CONTEXT_FIELDS if gen.writes_context else ()
    return logs.bot_events(spark, gen, catalogue=realistic.bot_catalogue(spark, gen), extra=extra)


def labelled_lines(spark: SparkSession, gen: GenerateConfig, imps: DataFrame) -> DataFrame:
    """Every output line (or row) of the log with its `dt` folder and `kind`."""
    last_day = gen.start_date + dt.timedelta(days=gen.days - 1)
    rates = dirt.event_rates(gen.dirt, gen.format)
    extra = realistic.CONTEXT_FIELDS if gen.writes_context else ()
    events = logs.funnel(imps, cfg=gen, extra=extra)
    labelled = dirt.spoil_fields(dirt.assign(events, seed=gen.seed, rates=rates, last_day=last_day))
    bots = bot_events(spark, gen).select(*S.RAW_SCHEMA.fieldNames(), *extra, S.DT, F.lit(dirt.BOT).alias(dirt.KIND))
    rows = labelled.unionByName(bots)
    if gen.format == "json":
        return render.json_lines(rows, seed=gen.seed, extra=extra)
    if gen.format == "csv":
        return render.csv_lines(rows, seed=gen.seed)
    return render.parquet_rows(rows, extra=extra)


def write(lines: DataFrame, *, gen: GenerateConfig, out: str) -> None:
    writer = lines.drop(dirt.KIND).write.mode("overwrite").partitionBy(S.DT)
    if gen.format == "parquet":
        writer.parquet(out)
    else:
        writer.option("compression", gen.compression).text(out)


def run(cfg: Config, summary: RunSummary) -> StageReport:
    """Write the log under `<root>/raw/dt=YYYY-MM-DD/`, `_manifest.json` and Delta `truth`."""
    spark = get_spark(cfg.spark)
    gen = cfg.generate
    imps = impressions(spark, gen)
    lines = labelled_lines(spark, gen, imps).persist(StorageLevel.MEMORY_AND_DISK)
    out = paths.raw(cfg.paths.root)
    log.info(
        "generate: about %d events (profile %s) as %s (%s) to %s",
        gen.events,
        gen.profile,
        gen.format,
        gen.compression,
        out,
    )
    write(lines, gen=gen, out=out)
    # one row per (folder, kind): a result of fixed size
    per_day: dict[str, dict[str, int]] = {}
    for row in lines.groupBy(S.DT, dirt.KIND).agg(F.count(F.lit(1)).alias("n")).collect():
        per_day.setdefault(row[S.DT].isoformat(), {})[row[dirt.KIND]] = int(row["n"])
    lines.unpersist()
    totals: dict[str, int] = {}
    for kinds in per_day.values():
        for kind, n in kinds.items():
            totals[kind] = totals.get(kind, 0) + n
    manifest: dict[str, Any] = {
        "format": gen.format,
        "compression": "snappy" if gen.format == "parquet" else gen.compression,
        "lines": dict(sorted(per_day.items())),
        "totals": dict(sorted(totals.items())),
    }
    storage.write_json(manifest_path(out), manifest)
    truth_version = tables.overwrite(truth(gen, imps), paths.table(cfg.paths.root, S.TRUTH_TABLE))
    return StageReport(
        rows_out=sum(totals.values()),
        tables={S.TRUTH_TABLE: truth_version},
        metrics=GenerateMetrics(lines=manifest["totals"]),
        artifacts={"raw": out, "raw_manifest": manifest_path(out)},
    )
