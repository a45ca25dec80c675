"""The raw input: `dt=YYYY-MM-DD` folders under any Hadoop URI, read by Spark.

Listing goes through Hadoop's FileSystem (the JVM's), so whatever URI Spark can read
(file://, hdfs://, s3a://, abfs://, ...) can be listed too. A problem with the input
is an `IngestError` whose one-line message names the path.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.ingest.parse import VALUE, quoted

BOM = "\ufeff"  # a UTF-8 byte order mark


class IngestError(RuntimeError):
    """The input cannot be ingested as configured."""


def _hadoop(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "no JVM behind this SparkSession"
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def _entries(spark: SparkSession, uri: str) -> list[tuple[str, bool]]:
    """(name, is a folder) of what is directly under `uri`, hidden names left out."""
    fs, path = _hadoop(spark, uri)
    if not fs.exists(path):
        raise IngestError(f"input path {uri} does not exist")
    if not fs.getFileStatus(path).isDirectory():
        raise IngestError(f"input path {uri} is a file; expected a folder of dt=YYYY-MM-DD folders")
    names = [(s.getPath().getName(), bool(s.isDirectory())) for s in fs.listStatus(path)]
    # Hadoop and Spark skip _SUCCESS, _manifest.json, .crc files: so do we
    return sorted((n, d) for n, d in names if not n.startswith(("_", ".")))


def input_dates(spark: SparkSession, path: str) -> list[dt.date]:
    """The dates of the `dt=YYYY-MM-DD` folders under `path`."""
    dates = []
    for name, folder in _entries(spark, path):
        key, _, value = name.partition("=")
        if not folder or key != S.DT:
            continue
        try:
            dates.append(dt.date.fromisoformat(value))
        except ValueError:
            raise IngestError(f"{path}/{name}: folder name is not dt=YYYY-MM-DD") from None
    if not dates:
        raise IngestError(f"input path {path} has no dt=YYYY-MM-DD folders")
    return dates


def run_dates(
    present: Sequence[dt.date], *, dates: Sequence[dt.date], date_range: Sequence[dt.date], path: str
) -> list[dt.date]:
    """The run dates asked for (all present ones if none), each of which must be present."""
    if date_range:
        first, last = date_range
        wanted = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    else:
        wanted = list(dates or present)
    absent = sorted(set(wanted) - set(present))
    if absent:
        raise IngestError(f"input path {path} has no folder for {', '.join(map(str, absent))}")
    return sorted(set(wanted))


def folder(path: str, day: dt.date) -> str:
    return f"{path.rstrip('/')}/{S.DT}={day.isoformat()}"


def data_files(spark: SparkSession, path: str, dates: Sequence[dt.date]) -> list[str]:
    """The data files of the run dates' folders; an empty folder is an error."""
    files = []
    for day in dates:
        names = [name for name, is_folder in _entries(spark, folder(path, day)) if not is_folder]
        if not names:
            raise IngestError(f"input folder {folder(path, day)} has no data files")
        files += [f"{folder(path, day)}/{name}" for name in names]
    return files


def read_lines(spark: SparkSession, path: str, dates: Sequence[dt.date]) -> DataFrame:
    """The text lines of the run dates' folders (decompressed by extension: .gz, .bz2).

    A UTF-8 byte order mark is dropped: editors on Windows put one atop a file.
    """
    value = F.col(VALUE)
    # a comparison, not a regexp, on every line
    unmarked = F.when(value.startswith(BOM), value.substr(F.lit(2), F.length(value))).otherwise(value)
    return (
        spark.read.option("basePath", path)
        .text([folder(path, d) for d in dates])
        .select(
            unmarked.alias(VALUE),
            F.col("_metadata.file_path").alias(S.SOURCE_FILE),
            F.col(S.DT).cast("date").alias(S.DT),
        )
    )


def read_parquet(spark: SparkSession, path: str, dates: Sequence[dt.date], fields: Sequence[str]) -> DataFrame:
    """The rows of the run dates' Parquet files, with `source_file` and `dt`."""
    rows = spark.read.option("basePath", path).parquet(*[folder(path, d) for d in dates])
    missing = sorted(set(fields) - set(rows.columns))
    if missing:
        raise IngestError(f"Parquet files under {path} lack the mapping's field(s) {missing}")
    return rows.select(
        *[F.col(quoted(f)) for f in fields if f != S.DT],
        F.col("_metadata.file_path").alias(S.SOURCE_FILE),
        F.col(S.DT).cast("date").alias(S.DT),
    )


def first_line(spark: SparkSession, file: str) -> str | None:
    """The first line of `file` (decompressed as Spark would), None if it has none.

    Read by the driver through Hadoop: one open per file, not a pass over the data.
    """
    fs, path = _hadoop(spark, file)
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "no JVM behind this SparkSession"
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
        spark.sparkContext._jsc.hadoopConfiguration()
    ).getCodec(path)
    stream = fs.open(path)
    try:
        if codec is not None:
            stream = codec.createInputStream(stream)
        line = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8")).readLine()
    except Exception as err:  # a Py4JJavaError: a corrupt or truncated file
        cause = str(err).strip().splitlines()[-1]
        raise IngestError(f"cannot read {file}: {cause} (corrupt or truncated?)") from None
    finally:
        stream.close()
    return None if line is None else str(line).removeprefix(BOM)


def csv_header(spark: SparkSession, files: Sequence[str], separator: str) -> tuple[str, list[str]]:
    """The header line atop every file of `files` and the column names it holds.

    Every file must have the same header, so that a column is never taken by its
    position in a file whose header orders the columns otherwise. A file with no bytes
    at all has no records and needs none.
    """
    found: dict[str, str] = {}
    for file in files:
        line = first_line(spark, file)
        if line is not None and not line.strip():
            raise IngestError(f"input.header is true but {file} has no header line")
        if line is not None:
            found[file] = line
    if not found:
        raise IngestError(f"input.header is true but none of the files has a header line (first: {files[0]})")
    (first, header), *others = found.items()
    for file, line in others:
        if line != header:
            raise IngestError(
                f"{file}: header {line!r} differs from {header!r} atop {first};"
                " every file of a run must have the same header"
            )
    columns = [c.strip() for c in next(csv.reader([header], delimiter=separator))]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise IngestError(f"{first}: header {columns} repeats column(s) {repeated}")
    return header, columns


_FILE = re.compile(r"(?:reading file|for file:?|File) (\S+?)\.?(?:\s|$)")
_CAUSE = re.compile(r"Caused by: ([^\n]+)")


@contextmanager
def named_read_errors() -> Iterator[None]:
    """Turn Spark's failure to read an input file into an IngestError naming the file."""
    try:
        yield
    except IngestError:
        raise
    except Exception as err:
        text = str(err)
        if "FAILED_READ_FILE" not in text and "CANNOT_READ_FILE_FOOTER" not in text and "not a Parquet" not in text:
            raise
        where = _FILE.search(text)
        causes = _CAUSE.findall(text)
        cause = causes[-1].strip() if causes else text.splitlines()[0]
        name = where.group(1) if where else "an input file"
        raise IngestError(
            f"cannot read {name}: {cause} (corrupt, truncated or not in the configured format?)"
        ) from None
