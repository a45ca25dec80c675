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


def test_read_arrow_gives_what_spark_reads_at_each_version_partition_values_included(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "t")
    first, second = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    days = F.when(F.col("id") % 2 == 0, F.lit(first)).otherwise(F.lit(second))
    before = spark.range(6).select("id", (F.col("id") * 0.5).alias("x"), days.alias(DT))
    tables.overwrite(before, path, partition_by=[DT])
    replacing = spark.range(100, 103).select("id", F.lit(9.0).alias("x"), F.lit(first).alias(DT))
    tables.replace_dates(replacing, path, [first])

    for version in (0, 1, None):
        reader = spark.read.format("delta")
        expected = (reader if version is None else reader.option("versionAsOf", version)).load(path)
        want = sorted((r["id"], r["x"], r[DT]) for r in expected.collect())
        got = tables.read_arrow(path, version=version)
        assert sorted(zip(*(got.column(c).to_pylist() for c in ("id", "x", DT)), strict=True)) == want, version
    only = tables.read_arrow(path, version=0, columns=[DT, "id"])
    assert only.column_names == [DT, "id"] and only.num_rows == 6


def test_read_arrow_of_a_table_without_files_is_empty_with_its_schema(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "empty")
    tables.overwrite(spark.range(3).select("id", F.lit(dt.date(2026, 11, 1)).alias(DT)).limit(0), path)

    empty = tables.read_arrow(path)

    assert empty.num_rows == 0 and set(empty.column_names) == {"id", DT}
