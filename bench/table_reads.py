"""Whole-table comparisons of the fault, restart and cluster tests: Spark against deltalake.

Those tests compare every table of a data root between runs. This reads each table of
`--root` both ways, alternating, `--rounds` times:

- `spark`: what the tests did before d7d56be, a Spark query per table giving its row
  count and the sum of a 64-bit hash of each row (`xxhash64`);
- `deltalake`: what they do now (`tests/faults/conftest.py::table_hashes`), in short:
  `tables.read_arrow` (delta-rs lists the files, pyarrow reads them), then a digest of
  the sorted rows (the tests also round floats and sort map entries first).

Writes the seconds of each round to `bench/results/table_reads.json`, with the load.

    .venv/bin/python bench/table_reads.py --root <a root a tiny `mtlrec run` built>
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import SPARK_CONF, SparkConfig
from mtlrec.run import paths
from mtlrec.spark_session import get_spark

RUN_COLUMNS = {S.RUN_ID, S.MODEL_RUN_ID}  # left out of the comparison: they name the run


def _comparable(field: T.StructField) -> Column:
    col = F.col(f"`{field.name}`")
    if field.name == S.SOURCE_FILE:
        return F.regexp_extract(col, r"dt=[^/]+/[^/]+$", 0)
    if isinstance(field.dataType, T.MapType):  # Spark hashes no map: its entries, in key order
        return F.array_sort(F.map_entries(col))
    if isinstance(field.dataType, T.DoubleType | T.FloatType):
        return F.round(col, 6)
    if isinstance(field.dataType, T.ArrayType) and isinstance(field.dataType.elementType, T.DoubleType | T.FloatType):
        return F.transform(col, lambda x: F.round(x, 6))
    return col


def spark_hashes(spark: SparkSession, root: str) -> dict[str, tuple[int, int]]:
    """The tests' comparison before d7d56be: per table, one Spark query of its rows and hash sum."""
    out = {}
    for name in storage.list_dirs(f"{root}/tables"):
        df = tables.read(spark, paths.table(root, name))
        fields = sorted((f for f in df.schema.fields if f.name not in RUN_COLUMNS), key=lambda f: f.name)
        row_hash = F.xxhash64(*[_comparable(f) for f in fields]).cast("decimal(38,0)")
        row = df.agg(F.count(F.lit(1)).alias("rows"), F.sum(row_hash).alias("hash")).first()
        assert row is not None
        out[name] = (int(row["rows"]), int(row["hash"] or 0))
    return out


def arrow_digests(root: str) -> dict[str, tuple[int, str]]:
    """The tests' comparison since d7d56be, short of its rounding: rows read without Spark."""
    out = {}
    for name in storage.list_dirs(f"{root}/tables"):
        table = tables.read_arrow(paths.table(root, name))
        columns = sorted(c for c in table.column_names if c not in RUN_COLUMNS)
        rows = sorted(repr(row) for row in zip(*(table.column(c).to_pylist() for c in columns), strict=True))
        out[name] = (table.num_rows, hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "table_reads.json"))
    args = parser.parse_args()

    # as the test suite's session: 2 partitions, a large generated-code cache
    conf = {**SPARK_CONF, "spark.sql.codegen.cache.maxEntries": "5000"}
    spark = get_spark(SparkConfig(shuffle_partitions=2, progress=False, conf=conf))
    seconds: dict[str, list[float]] = {"spark": [], "deltalake": []}
    for _ in range(args.rounds):
        began = time.perf_counter()
        counted = spark_hashes(spark, args.root)
        seconds["spark"].append(round(time.perf_counter() - began, 2))
        began = time.perf_counter()
        digested = arrow_digests(args.root)
        seconds["deltalake"].append(round(time.perf_counter() - began, 2))
        assert {n: r for n, (r, _) in counted.items()} == {n: r for n, (r, _) in digested.items()}
    report = {
        "root": args.root,
        "tables": len(counted),
        "rows": sum(r for r, _ in counted.values()),
        "seconds": seconds,
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "load": round(os.getloadavg()[0], 1),
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
