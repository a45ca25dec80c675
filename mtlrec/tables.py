"""Every Delta read and write of mtlrec goes through this module.

A table lives at `<root>/tables/<name>` (`run.paths.table`). Daily tables are
partitioned by `dt` and a job rewrites exactly the dates it computed (`replaceWhere`),
so re-running a date replaces that date and never duplicates rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from urllib.parse import unquote

import deltalake
import pyarrow as pa
import pyarrow.parquet as pq
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, DataFrameWriter, SparkSession

from mtlrec import storage
from mtlrec.schema import DT


def exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def read(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    """Read a Delta table, pinned to `version` when given."""
    if not exists(spark, path):
        raise FileNotFoundError(f"no Delta table at {path}: run the stage that writes it first")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def read_arrow(path: str, version: int | None = None, columns: list[str] | None = None) -> pa.Table:
    """A Delta table (pinned to `version` when given) as one Arrow table, without Spark.

    For tables small enough for one process (a vocabulary, feature stats, a test's
    tables). `deltalake` lists the version's files and partition values; pyarrow reads
    each file without threads. Not `DeltaTable.to_pyarrow_table`: its dataset scanner
    leaves threads that can abort the interpreter at exit (delta-rs#2184).
    """
    uri = storage.arrow_uri(path).rstrip("/")
    delta = deltalake.DeltaTable(uri, version=version)
    parts = []
    for add in pa.table(delta.get_add_actions(flatten=True)).to_pylist():
        partitions = {k.removeprefix("partition."): v for k, v in add.items() if k.startswith("partition.")}
        wanted = None if columns is None else [c for c in columns if c not in partitions]
        file = add["path"] if "://" in add["path"] else f"{uri}/{unquote(add['path'])}"
        part = pq.read_table(file, columns=wanted, use_threads=False)
        for name, value in partitions.items():
            if columns is None or name in columns:
                part = part.append_column(name, pa.array([value] * part.num_rows))
        parts.append(part)
    if not parts:
        table = pa.schema(delta.schema().to_arrow()).empty_table()
    else:
        table = pa.concat_tables(parts, promote_options="default")
    return table if columns is None else table.select(columns)


def overwrite(df: DataFrame, path: str, *, partition_by: Iterable[str] = ()) -> int:
    """Replace the whole table with `df`; return the new Delta version."""
    (df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").partitionBy(*partition_by).save(path))
    return committed(df.sparkSession, path)


def replace_dates(df: DataFrame, path: str, dates: Iterable[dt.date], *, merge_schema: bool = False) -> int:
    """Rewrite the `dt` partitions named by `dates` with `df`; return the new version.

    Rows of `df` outside `dates` make Delta fail the write, which is what we want: a
    job may only touch the dates it was asked to compute. `merge_schema`: columns of
    `df` the table lacks are added (null in its other rows).
    """
    days = sorted(set(dates))
    if not days:
        raise ValueError(f"replace_dates({path}): no dates given")
    predicate = f"{DT} IN ({', '.join(repr(d.isoformat()) for d in days)})"
    _replacing(df, predicate, merge_schema).save(path)
    return committed(df.sparkSession, path)


def replace_rows(
    df: DataFrame,
    path: str,
    *,
    column: str,
    values: Iterable[dt.date],
    dates: Iterable[dt.date],
    merge_schema: bool = False,
) -> int:
    """In one commit, replace the rows whose `column` is in `values` with `df`.

    `dates` bound the `dt` partitions those rows may sit in (so Delta prunes the
    rest). Every row of `df` must match, or Delta fails the write. For a table whose
    rows of one run date are spread over several `dt` partitions (late events).
    `merge_schema` as in `replace_dates`.
    """
    days, keys = sorted(set(dates)), sorted(set(values))
    if not days or not keys:
        raise ValueError(f"replace_rows({path}): no dates or values given")
    # not BETWEEN: Delta 4.2 fails a replaceWhere with BETWEEN on an existing table
    # ("Invalid call to nullable on unresolved object")
    literals = ", ".join(f"DATE'{v.isoformat()}'" for v in keys)
    predicate = (
        f"{DT} >= DATE'{days[0].isoformat()}' AND {DT} <= DATE'{days[-1].isoformat()}' AND {column} IN ({literals})"
    )
    _replacing(df, predicate, merge_schema).save(path)
    return committed(df.sparkSession, path)


def _replacing(df: DataFrame, predicate: str, merge_schema: bool) -> DataFrameWriter:
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate).partitionBy(DT)
    return writer.option("mergeSchema", "true") if merge_schema else writer


def insert_new(df: DataFrame, path: str, *, keys: Iterable[str]) -> int:
    """MERGE in the rows of `df` whose `keys` the table lacks; never update a row.

    Creates the table from `df` when absent. Re-running with the same rows inserts
    nothing, so appending to an append-only table (a vocabulary) is idempotent.
    """
    spark = df.sparkSession
    if not exists(spark, path):
        return overwrite(df, path)
    matched = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    DeltaTable.forPath(spark, path).alias("t").merge(df.alias("s"), matched).whenNotMatchedInsertAll().execute()
    return committed(spark, path)


def committed(spark: SparkSession, path: str) -> int:
    """The version a write of this module just committed to the table at `path`.

    Every commit passes here, and only commits: the fault-injection tests wrap it to
    crash a stage right after its k-th commit.
    """
    return version(spark, path)


def version(spark: SparkSession, path: str) -> int:
    """The latest committed version of the Delta table at `path`.

    The highest numbered commit file in `_delta_log`, listed through Hadoop's file
    system (any scheme Spark reads): a tenth of what a `history()` query costs, and
    every write of this module asks for it.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "a SparkSession of this process, not Spark Connect"
    log = jvm.org.apache.hadoop.fs.Path(f"{path.rstrip('/')}/_delta_log")
    filesystem = log.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    names = [status.getPath().getName() for status in filesystem.listStatus(log)]
    commits = [int(name[:-5]) for name in names if _COMMIT.fullmatch(name)]
    assert commits, f"Delta table {path} has no commit"
    return max(commits)


_COMMIT = re.compile(r"\d{20}\.json")


def written_rows(spark: SparkSession, path: str, version: int) -> int:
    """The new rows commit `version` of the table at `path` wrote, as Delta counted them.

    A `replace_rows` rewrites the files it touches: Delta's `numOutputRows` counts the
    rows it copied over from them too (`numCopiedRows`), which are not new.
    """
    table = DeltaTable.forPath(spark, path)
    row = table.history(1).select("version", "operationMetrics").first()
    if row is None or int(row["version"]) != version:  # another commit came after it
        row = table.history().where(f"version = {int(version)}").select("version", "operationMetrics").first()
    assert row is not None, f"Delta table {path} has no version {version}"
    metrics = row["operationMetrics"] or {}
    return int(metrics.get("numOutputRows", 0)) - int(metrics.get("numCopiedRows", 0))
