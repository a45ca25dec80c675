"""Benchmark of the `features` stage: wall time, peak memory and task skew.

    .venv/bin/python bench/features.py                      # 1M and 10M events (quiet machine)
    .venv/bin/python bench/features.py --events 20000       # a quick check that it runs

For each size it generates and ingests a log once (not measured), then runs the
features stage twice, each a full rebuild in a fresh process with a Spark event log:

- `before`: no salting (`features.salt_buckets=1`) and AQE's skew join off;
- `after`: the configured skew handling (salted hot users, AQE skew join on).

Per run it records the stage's wall seconds (run summary), the process's wall seconds,
the peak resident memory of the process tree (driver JVM + Python, polled from /proc),
and task skew from the event log: the longest task over the median task of the whole
stage, and, for the Spark stage where the longest task exceeds its median by the most
seconds, its longest/median. Results go to bench/results/features.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from proctree import run_logged  # a module of this script's folder (bench/ is not a package)

REPO = Path(__file__).resolve().parents[1]

PYTHON = sys.executable
# run one stage, then stop Spark so the event log is complete
STAGE = (
    "import sys; from pyspark.sql import SparkSession; from mtlrec.cli import main; "
    "code = main(sys.argv[1:]); s = SparkSession.getActiveSession(); s and s.stop(); sys.exit(code)"
)


def measured(cmd: list[str], log: Path) -> tuple[float, int]:
    """Run `cmd`, output to `log`; return its wall seconds and the peak RSS of its process tree."""
    return run_logged(cmd, cwd=REPO, log=log)


def task_skew(event_dir: Path) -> dict[str, Any]:
    """Longest over median task time, overall and for the worst heavy Spark stage."""
    logs = sorted((p for p in event_dir.rglob("*") if p.is_file() and not p.name.startswith(".")), key=os.path.getmtime)
    tasks: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for line in logs[-1].read_text().splitlines():
        event = json.loads(line)
        if event["Event"] == "SparkListenerTaskEnd":
            info = event["Task Info"]
            tasks.setdefault(event["Stage ID"], []).append(info["Finish Time"] - info["Launch Time"])
        elif event["Event"] == "SparkListenerStageCompleted":
            names[event["Stage Info"]["Stage ID"]] = event["Stage Info"]["Stage Name"]
    every = [t for ts in tasks.values() for t in ts]
    # the stage where skew costs most: the longest task's excess over the median one
    excess = {s: max(ts) - statistics.median(ts) for s, ts in tasks.items() if len(ts) >= 2}
    worst = max(excess, key=lambda s: excess[s]) if excess else None
    return {
        "tasks": len(every),
        "task_seconds": round(sum(every) / 1000, 1),
        "longest_task_s": round(max(every) / 1000, 2),
        "median_task_s": round(statistics.median(every) / 1000, 3),
        "longest_over_median": round(max(every) / max(statistics.median(every), 1), 1),
        "most_skewed_stage": None
        if worst is None
        else {
            "stage": names.get(worst, str(worst)),
            "tasks": len(tasks[worst]),
            "longest_s": round(max(tasks[worst]) / 1000, 2),
            "median_s": round(statistics.median(tasks[worst]) / 1000, 3),
            "longest_over_median": round(max(tasks[worst]) / max(statistics.median(tasks[worst]), 1), 1),
        },
    }


def mtlrec(stage: str, root: Path, sets: list[str]) -> list[str]:
    args = [stage, "--conf", "conf/local.yaml", "--set", f"paths.root={root}"]
    return [PYTHON, "-c", STAGE, *args, *[a for s in sets for a in ("--set", s)]]


def bench_size(events: int, base: Path, *, driver_memory: str, reuse: bool) -> dict[str, Any]:
    root = base / f"events-{events}"
    partitions = max(4, events // 250_000)
    common = [f"spark.shuffle_partitions={partitions}", f"spark.driver_memory={driver_memory}"]
    gen = [
        f"generate.events={events}",
        f"generate.users={max(4000, events // 50)}",
        f"generate.items={max(1500, events // 500)}",
        f"generate.partitions={partitions}",
    ]
    root.mkdir(parents=True, exist_ok=True)
    if not (reuse and (root / "tables" / "events").exists()):
        measured(mtlrec("generate", root, [*common, *gen]) + ["--new-run"], root / "generate.log")
        measured(mtlrec("ingest", root, common), root / "ingest.log")
    hot = max(200, events // 2000)
    out: dict[str, Any] = {"shuffle_partitions": partitions, "hot_key_rows": hot}
    variants = {
        "before": (["features.salt_buckets=1"], "false"),
        "after": ([], "true"),
    }
    for name, (sets, skew_join) in variants.items():
        event_dir = root / f"eventlog-{name}"
        event_dir.mkdir(exist_ok=True)
        conf = {
            "spark.ui.showConsoleProgress": "false",
            "spark.databricks.delta.snapshotPartitions": "2",  # as conf/local.yaml: small Delta logs
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": event_dir.as_uri(),
            "spark.eventLog.rolling.enabled": "false",  # one plain JSON-lines file
            "spark.eventLog.compress": "false",
            "spark.sql.adaptive.skewJoin.enabled": skew_join,
        }
        cmd = mtlrec(
            "features",
            root,
            [*common, "features.rebuild=true", f"features.hot_key_rows={hot}", f"spark.conf={json.dumps(conf)}", *sets],
        )
        wall, peak = measured(cmd, root / f"features-{name}.log")
        summary = json.loads((root / "runs" / "latest.json").read_text())
        out[name] = {
            "stage_seconds": summary["stages"]["features"]["seconds"],
            "process_seconds": round(wall, 1),
            "peak_rss_mb": round(peak / 2**20),
            "events": summary["stages"]["features"]["rows_in"],
            "samples": summary["stages"]["features"]["rows_out"],
            "skew": task_skew(event_dir),
        }
        print(f"{events} events, {name}: {json.dumps(out[name])}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--root", default="/tmp/mtlrec-bench-features", help="scratch space for logs and tables")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--reuse", action="store_true", help="keep the events already ingested under --root")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "features.json"))
    args = parser.parse_args(argv)
    results = {
        "cpus": os.cpu_count(),
        "sizes": {
            str(n): bench_size(n, Path(args.root), driver_memory=args.driver_memory, reuse=args.reuse)
            for n in args.events
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
