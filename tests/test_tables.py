"""`mtlrec.tables`: each write returns the version Delta itself records for its commit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from mtlrec import tables
from mtlrec.schema import DT


def delta_version(spark: SparkSession, path: str) -> int:
    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])  # type: ignore[index]


@pytest.mark.slow
def test_every_write_returns_the_version_delta_records_past_a_checkpoint(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    day = dt.date(2026, 11, 1)
    rows = spark.range(6).select(F.col("id"), F.lit(day).alias(DT))
    returned = [tables.overwrite(rows, path, partition_by=[DT])]
    returned.append(tables.insert_new(rows.withColumn("id", F.col("id") + 6), path, keys=["id"]))
    for _ in range(9):  # Delta writes a checkpoint at version 10
        returned.append(tables.replace_dates(rows, path, [day]))
        assert returned[-1] == delta_version(spark, path)

    assert returned == list(range(11))
    assert (tmp_path / "t" / "_delta_log" / f"{10:020d}.checkpoint.parquet").exists()
    assert tables.version(spark, path) == delta_version(spark, path) == 10
