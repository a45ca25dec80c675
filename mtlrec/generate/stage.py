"""`mtlrec generate`: write a synthetic raw log and its ground truth."""

from __future__ import annotations

import logging

from pyspark import StorageLevel
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.config import Config
from mtlrec.generate import logs
from mtlrec.spark_session import get_spark
from mtlrec.summary import RunSummary, StageReport

log = logging.getLogger(__name__)


def run(cfg: Config, summary: RunSummary) -> StageReport:
    """Write gzip JSON lines under `<root>/raw/dt=YYYY-MM-DD/` and Delta `truth`."""
    spark = get_spark(cfg.spark)
    gen = cfg.generate
    imps = logs.impressions(spark, gen)
    lines = logs.json_lines(logs.events(imps, cfg=gen), seed=gen.seed, malformed_rate=gen.malformed_rate)
    lines = lines.persist(StorageLevel.MEMORY_AND_DISK)
    out = tables.raw_path(cfg.paths.root)
    log.info("generate: writing %d impressions' events to %s", gen.impressions, out)
    (lines.select("value", S.DT).write.mode("overwrite").partitionBy(S.DT).option("compression", "gzip").text(out))
    # one row per malformed kind plus the clean lines: a result of fixed size
    counts = {
        (row["kind"] or "clean"): int(row["n"])
        for row in lines.groupBy("kind").agg(F.count(F.lit(1)).alias("n")).collect()
    }
    lines.unpersist()
    truth_version = tables.overwrite(logs.truth(imps), tables.table_path(cfg.paths.root, S.TRUTH_TABLE))
    return StageReport(
        rows_out=sum(counts.values()),
        tables={S.TRUTH_TABLE: truth_version},
        metrics={"generate": {"lines": counts}},
        artifacts={"raw": out},
    )
