"""Whole-table comparisons of the fault, restart and cluster tests: Spark against deltalake.

Those tests compare every table of a data root between runs. This reads each table of
`--root` both ways, alternating, `--rounds` times:

- `spark`: what the tests did before d7d56be, a Spark query per table giving its row
  count and the sum of a 64-bit hash of each row (`xxhash64`);
- `deltalake`: what they do now, `tests/faults/conftest.py::table_hashes` (delta-rs
  lists the files, pyarrow reads them, a digest of the sorted rows).

Writes the seconds of each round to `bench/results/table_reads.json`, with the load.

    .venv/bin/python bench/table_reads.py --root <a root a tiny `mtlrec run` built>
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests` is not installed

from mtlrec import schema as S  # noqa: E402
from mtlrec import storage, tables  # noqa: E402
from mtlrec.run import paths  # noqa: E402
from mtlrec.spark_session import get_spark  # noqa: E402
from tests.conftest import TEST_SPARK  # noqa: E402
from tests.faults.conftest import RUN_COLUMNS, table_hashes  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "table_reads.json"))
    args = parser.parse_args()

    spark = get_spark(TEST_SPARK)  # the test suite's session settings
    seconds: dict[str, list[float]] = {"spark": [], "deltalake": []}
    for _ in range(args.rounds):
        began = time.perf_counter()
        counted = spark_hashes(spark, args.root)
        seconds["spark"].append(round(time.perf_counter() - began, 2))
        began = time.perf_counter()
        digested = table_hashes(Path(args.root))
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
