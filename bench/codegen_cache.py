"""`features` run again in one SparkSession, with Spark's generated-code cache at its
default size (100 classes) and at the size mtlrec sets (2000; the test suite 5000).

A backfill, and the test suite, run the same stages again in one session. Spark
compiles a Java class for each whole-stage plan it runs (Janino, then the JVM's JIT)
and keeps the last `spark.sql.codegen.cache.maxEntries` of them; one `features` run
generates ~500, so at the default the next run compiles them all again. Each size
runs in a session of its own (the size is fixed when the session starts): `--runs`
builds of the test suite's funnel (`tests/conftest.py`, 3 days), each into a new
root, timing each and counting the classes Spark compiled (its CodegenMetrics). The
first run of a session also pays the JVM's warm-up; the later runs are the point.

    .venv/bin/python bench/codegen_cache.py            # 100 (Spark's default) vs 2000, 3 runs each

Results: bench/results/codegen_cache.json (with the load average: the 2 cores are shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def session(entries: str, runs: int) -> list[dict[str, float]]:
    """`runs` funnel builds in one new session (this script again, in a process of its own)."""
    out = subprocess.run(
        [sys.executable, __file__, "--one-session", entries, "--runs", str(runs)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def one_session(entries: str, runs: int) -> None:
    import dataclasses

    from mtlrec.spark_session import get_spark
    from tests.conftest import FUNNEL_DAYS, TEST_SPARK, run_features

    # set in the session's conf: it overrides the size get_spark sets
    conf = {**TEST_SPARK.conf, "spark.sql.codegen.cache.maxEntries": entries}
    spark = get_spark(dataclasses.replace(TEST_SPARK, conf=conf))
    assert spark.conf.get("spark.sql.codegen.cache.maxEntries") == entries
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    compile_time = jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME()
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            compiled = compile_time.getCount()
            began = time.perf_counter()
            run_features(spark, Path(tmp) / str(n), FUNNEL_DAYS[:3])
            seconds = time.perf_counter() - began
            print(json.dumps({"run": n, "seconds": round(seconds, 1), "compiled": compile_time.getCount() - compiled}))
    spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="100,2000")
    parser.add_argument("--one-session", default="")
    parser.add_argument("--out", default=str(RESULTS / "codegen_cache.json"))
    args = parser.parse_args()
    if args.one_session:
        one_session(args.one_session, args.runs)
        return
    load_before = os.getloadavg()[0]
    sizes = {size: session(size, args.runs) for size in args.sizes.split(",")}
    result = {
        "what": "features over the test funnel (3 days), run again in one SparkSession",
        "runs": sizes,
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "cores": os.cpu_count(),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
