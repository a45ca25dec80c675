"""Benchmark of the `ingest` stage against the floor of reading the same files.

    .venv/bin/python bench/ingest.py                            # 1M and 10M events, json and csv (quiet machine)
    .venv/bin/python bench/ingest.py --sizes 20000 --keep       # a quick check that it runs

For each size and format it generates a dirty log once (gzip; not measured), then, each
in a fresh process:

- `floor`: Spark reads the same files as text with no parsing (`spark.read.text`,
  written to the `noop` sink, so every line is decompressed and materialised);
- `ingest`: the ingest stage on all dates, from an empty `events` table (parse,
  validate, bots, duplicates, Delta writes of events, quarantine and dq_metrics);
- `duckdb` (JSON logs; `pip install -e '.[bench]'`): the tool a user would pick
  instead doing the same job in SQL on 2 threads (bench/duckdb_ingest.py).

Per run it records the wall seconds of the work itself (Spark's start-up excluded;
for ingest the stage's seconds in the run summary), lines or events per second, and
the peak resident memory of the process tree (driver JVM + Python workers, polled
from /proc). `ratio` is ingest's lines per second over the floor's: the goal is at
least 0.5. `vs_duckdb` is ingest's process seconds (Spark's start-up counted) over
DuckDB's (its import counted): issue 13's goal is at most 4 at 10M events. Results go
to bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from proctree import run_measured  # a module of this script's folder (bench/ is not a package)

REPO = Path(__file__).resolve().parents[1]
DUCKDB = Path(__file__).resolve().parent / "duckdb_ingest.py"

PYTHON = sys.executable
STAGE = "import sys; from mtlrec.cli import main; sys.exit(main(sys.argv[1:]))"
# a stage, its Spark session started first so the stage's seconds exclude start-up
WARM_STAGE = """
import sys
from mtlrec.cli import main, parse_args
from mtlrec.config import load_config
from mtlrec.spark_session import get_spark
args = parse_args(sys.argv[1:])
get_spark(load_config(args.conf, args.overrides).spark).range(1).count()
sys.exit(main(sys.argv[1:]))
"""
# the floor: every line read and materialised, nothing parsed; prints its seconds
FLOOR = """
import sys, time
from mtlrec.config import load_config
from mtlrec.spark_session import get_spark
cfg = load_config(sys.argv[1], sys.argv[2:])
spark = get_spark(cfg.spark)
spark.range(1).count()
start = time.perf_counter()
spark.read.text(cfg.paths.root + "/raw").write.format("noop").mode("overwrite").save()
print("SECONDS", time.perf_counter() - start)
"""


def measured(args: list[str]) -> tuple[float, int, str, float]:
    """Run `args`; return its wall seconds, the peak RSS of its process tree, its stdout,
    and the machine's 1-minute load average as it ended (other work sharing the cores)."""
    seconds, peak, code, out, err = run_measured(args, cwd=REPO, stdout=subprocess.PIPE, interval=0.2)
    if code != 0:
        raise SystemExit(f"{' '.join(args[:4])} ... failed ({code}):\n{err[-3000:]}")
    return seconds, peak, out, round(os.getloadavg()[0], 1)


def overrides(root: Path, events: int, fmt: str, driver_memory: str) -> list[str]:
    """Config for a log of `events`: ids, files and shuffle partitions grow with it."""
    return [
        f"paths.root={root}",
        f"generate.events={events}",
        f"generate.users={max(4000, events // 50)}",
        f"generate.items={max(1500, events // 130)}",
        f"generate.partitions={max(4, events // 250_000)}",
        f"generate.format={fmt}",
        "generate.compression=gzip",
        f"input.format={fmt}",
        f"spark.shuffle_partitions={max(4, events // 500_000)}",
        f"spark.driver_memory={driver_memory}",
    ]


def cli(stage: str, sets: list[str], *, warm: bool = False) -> list[str]:
    flags = [a for s in sets for a in ("--set", s)]
    return [PYTHON, "-c", WARM_STAGE if warm else STAGE, stage, "--conf", "conf/local.yaml", "--new-run", *flags]


def generated(root: Path, events: int, fmt: str, sets: list[str]) -> dict[str, Any]:
    """The log's manifest, generating the log unless an equal one is there."""
    manifest = root / "raw" / "_manifest.json"
    config = root / "bench-config.json"
    if not (manifest.exists() and config.exists() and json.loads(config.read_text()) == sets):
        print(f"generating {events:,} events as {fmt} under {root} ...", flush=True)
        measured(cli("generate", sets))
        config.write_text(json.dumps(sets))
    result: dict[str, Any] = json.loads(manifest.read_text())
    return result


def floor(sets: list[str]) -> dict[str, Any]:
    wall, peak, out, load = measured([PYTHON, "-c", FLOOR, "conf/local.yaml", *sets])
    seconds = float(next(line.split()[1] for line in out.splitlines() if line.startswith("SECONDS")))
    return {
        "seconds": round(seconds, 2),
        "process_seconds": round(wall, 2),
        "peak_rss_mb": peak >> 20,
        "load": load,
    }


def duckdb_job(root: Path) -> dict[str, Any]:
    out = root / "duckdb"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    out.mkdir()
    wall, peak, stdout, load = measured([PYTHON, str(DUCKDB), str(root / "raw"), str(out)])
    words = next(line.split() for line in stdout.splitlines() if line.startswith("SECONDS"))
    return {
        "seconds": round(float(words[1]), 2),
        "process_seconds": round(wall, 2),
        "peak_rss_mb": peak >> 20,
        "load": load,
        "read": int(words[3]),
        "clean": int(words[5]),
    }


def ingest(root: Path, sets: list[str]) -> dict[str, Any]:
    for table in ("events", "quarantine", "dq_metrics"):
        subprocess.run(["rm", "-rf", str(root / "tables" / table)], check=True)
    wall, peak, _, load = measured(cli("ingest", sets, warm=True))
    summary = json.loads((root / "runs" / "latest.json").read_text())
    quality = summary["metrics"]["ingest"]
    return {
        "seconds": summary["stages"]["ingest"]["seconds"],
        "process_seconds": round(wall, 2),
        "peak_rss_mb": peak >> 20,
        "load": load,
        "read": quality["read"],
        "clean": quality["clean"],
    }


def bench(events: int, fmt: str, args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.root) / f"{fmt}-{events}"
    sets = overrides(root, events, fmt, args.driver_memory)
    manifest = generated(root, events, fmt, sets)
    lines = sum(manifest["totals"].values())
    size = sum(f.stat().st_size for f in (root / "raw").rglob("*.gz"))
    floors = [floor(sets) for _ in range(args.repeat)]
    ingests = [ingest(root, sets) for _ in range(args.repeat)]
    duckdbs = [duckdb_job(root) for _ in range(args.repeat)] if fmt == "json" and not args.no_duckdb else []
    best_floor = min(floors, key=lambda r: r["seconds"])
    best_ingest = min(ingests, key=lambda r: r["seconds"])
    floor_rate = lines / best_floor["seconds"]
    ingest_rate = best_ingest["read"] / best_ingest["seconds"]
    took, peak = best_ingest["seconds"], best_ingest["peak_rss_mb"]
    print(
        f"{fmt:>4} {events:>11,}: floor {floor_rate:>11,.0f} lines/s, ingest {ingest_rate:>9,.0f} lines/s"
        f" ({took:.1f} s, peak {peak:,} MB), ratio {ingest_rate / floor_rate:.3f}"
        f" (load {best_floor['load']} / {best_ingest['load']})",
        flush=True,
    )
    peer: dict[str, Any] = {}
    if duckdbs:
        best = min(duckdbs, key=lambda r: r["process_seconds"])
        vs = best_ingest["process_seconds"] / best["process_seconds"]
        print(
            f"{'':>17} duckdb {best['process_seconds']:.1f} s, clean {best['clean']:,}"
            f" (ingest {best_ingest['clean']:,}), ingest / duckdb {vs:.1f}x (load {best['load']})",
            flush=True,
        )
        peer = {"duckdb": {**best, "runs": duckdbs}, "vs_duckdb": round(vs, 2)}
    return {
        "format": fmt,
        "events": events,
        "lines": lines,
        "gzip_mb": round(size / 2**20, 1),
        "floor": {**best_floor, "lines_per_s": round(floor_rate), "runs": floors},
        "ingest": {**best_ingest, "events_per_s": round(ingest_rate), "runs": ingests},
        "ratio": round(ingest_rate / floor_rate, 3),
        **peer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000], help="events per log")
    parser.add_argument("--formats", nargs="+", default=["json", "csv"], choices=["json", "csv"])
    parser.add_argument("--root", default="/tmp/mtlrec-bench-ingest", help="where the logs and tables go")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement; the fastest counts")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB peer (JSON logs only)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "ingest.json"))
    parser.add_argument("--keep", action="store_true", help="keep the generated logs and tables")
    args = parser.parse_args()
    results = [bench(events, fmt, args) for events in args.sizes for fmt in args.formats]
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "note": "lines/s: lines read (events and dirt) per wall second of the work; ratio = ingest / floor;"
        " vs_duckdb = ingest's process seconds / DuckDB's (start-up counted in both);"
        " load: the machine's 1-minute load average as each run ended (2 cores: above 2, other work shared them)",
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {args.out}")
    if not args.keep:
        subprocess.run(["rm", "-rf", args.root], check=True)


if __name__ == "__main__":
    main()
