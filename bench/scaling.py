"""The whole pipeline at growing log sizes: seconds and peak memory per stage, a cost model
to 100M events, and the plot (issue 13).

    .venv/bin/python bench/scaling.py                                 # 1M, 2M and 10M events, realistic profile
    .venv/bin/python bench/scaling.py --sizes 20000 40000 --out /tmp/s.json   # a quick check that it runs
    .venv/bin/python bench/scaling.py --sizes 1000000 --stages evaluate       # one stage again, after a change

For each size it generates a log (not measured), then runs `ingest`, `features`, `train`,
`evaluate` and `score` each in a fresh process, as a scheduler would, on the profile of
`--conf` with `generate.events` set to the size (the realistic profile keeps its 200k
users and 50k items: a bigger log is more of the same population). Per stage it records
the stage's seconds (run summary), the process's wall seconds (Spark's and Ray's start-up
counted), the peak resident memory of the process tree (driver JVM, Python workers, Ray
workers; polled from /proc) and the machine's load as it ended.

The cost model of a stage is `seconds = fixed + per_event * events`, fitted by least
squares on the measured sizes (the process seconds); it gives the 100M extrapolation.
`per_million_rise` is the last size's process seconds per million events over the first
size's, less 1: issue 13's goal is at most 0.20 per stage. The JSON goes to
bench/results/scaling.json and the plot (seconds and peak memory by size, the model's
lines to 100M) to bench/results/scaling.png.
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

from proctree import run_logged  # a module of this script's folder (bench/ is not a package)

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
STAGES = ("ingest", "features", "train", "evaluate", "score")
EXTRAPOLATE_TO = 100_000_000


def run(args: list[str], log: Path) -> tuple[float, int]:
    """`mtlrec <args>` in a fresh process; its wall seconds and peak tree RSS (bytes)."""
    return run_logged([PYTHON, "-m", "mtlrec.cli", *args], cwd=REPO, log=log)


def overrides(events: int, root: Path, sets: list[str]) -> list[str]:
    """The config overrides for a log of about `events` events under `root`."""
    return [
        f"paths.root={root}",
        f"generate.events={events}",
        f"generate.partitions={max(4, events // 250_000)}",
        # >= 1 per 62.5k events: with 4 (the formula before), score ran out of heap at 2M
        f"spark.shuffle_partitions={max(32, events // 62_500)}",
        "spark.progress=false",
        *sets,
    ]


def sized(events: int, root: Path, conf: str, sets: list[str]) -> list[str]:
    """`--conf` and `--set`s for a log of about `events` events under `root`."""
    return ["--conf", conf, *[a for s in overrides(events, root, sets) for a in ("--set", s)]]


def commit() -> str:
    """The checked-out commit (with `+changes` when the tree differs from it)."""
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "mtlrec"], cwd=REPO, capture_output=True, text=True)
    return rev.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def measure(events: int, args: argparse.Namespace, earlier: dict[str, Any] | None) -> dict[str, Any]:
    """Run `args.stages` on a log of `events`; the other stages' figures come from `earlier`
    (the same size in --out). A re-measured stage keeps its earlier figures as `replaced`."""
    root = Path(args.root) / str(events)
    options = sized(events, root, args.conf, args.set)
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if not (root / "raw" / "_manifest.json").exists():
        print(f"generating ~{events:,} events under {root} ...", flush=True)
        run(["generate", *options], logs / "generate.log")
    manifest = json.loads((root / "raw" / "_manifest.json").read_text())
    stages: dict[str, Any] = {}
    for stage in STAGES:
        before = (earlier or {}).get("stages", {}).get(stage)
        if stage not in args.stages:
            if before is None:
                raise SystemExit(f"no earlier figures of {stage} at {events:,} events in {args.out}: measure it")
            stages[stage] = before
            continue
        first = ["--new-run"] if stage == STAGES[0] else []
        wall, peak = run([stage, *first, *options], logs / f"{stage}.log")
        summary = json.loads((root / "runs" / "latest.json").read_text())
        stages[stage] = {
            "seconds": summary["stages"][stage]["seconds"],
            "process_seconds": round(wall, 1),
            "peak_rss_mb": peak >> 20,
            "load": round(os.getloadavg()[0], 1),
            "commit": commit(),
            "sets": args.set,  # the --set of this measurement (a re-measured stage may differ)
            **({"replaced": before} if before else {}),  # with what it replaced in turn
        }
        print(f"{events:>12,} {stage:>9}: {wall:7.1f} s, peak {peak >> 20:,} MB", flush=True)
    summary = json.loads((root / "runs" / "latest.json").read_text())
    lines = sum(manifest["totals"].values())
    return {"events": events, "lines": lines, "stages": stages, "metrics": summary["metrics"]}


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares `fixed + per_event * events` through `points` (events, seconds)."""
    n = len(points)
    if n == 1:
        return 0.0, points[0][1] / points[0][0]
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    # a stage does not get cheaper with more data: a falling fit is noise over a fixed cost
    slope = max(slope, 0.0)
    return my - slope * mx, slope


def model(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stage in STAGES:
        measured = [r for r in runs if "process_seconds" in r["stages"][stage]]  # not the failed ones
        points = [(r["events"], r["stages"][stage]["process_seconds"]) for r in measured]
        if not points:
            continue
        fixed, per_event = fit(points)
        (x0, y0), (x1, y1) = points[0], points[-1]
        out[stage] = {
            "fixed_seconds": round(fixed, 1),
            "seconds_per_million": round(per_event * 1e6, 2),
            f"seconds_at_{EXTRAPOLATE_TO // 1_000_000}M": round(fixed + per_event * EXTRAPOLATE_TO),
            "per_million_rise": round((y1 / x1) / (y0 / x0) - 1, 3) if len(points) > 1 else None,
            "peak_rss_mb": [r["stages"][stage]["peak_rss_mb"] for r in measured],
            "failed_at": [r["events"] for r in runs if "failed" in r["stages"][stage]],
        }
    return out


def plot(runs: list[dict[str, Any]], fitted: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["events"] for r in runs]
    grid = [min(sizes) * (EXTRAPOLATE_TO / min(sizes)) ** (i / 50) for i in range(51)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for stage in fitted:
        done = [r for r in runs if "process_seconds" in r["stages"][stage]]
        line = left.plot(
            [r["events"] for r in done], [r["stages"][stage]["process_seconds"] for r in done], "o", label=stage
        )
        fixed, per_million = fitted[stage]["fixed_seconds"], fitted[stage]["seconds_per_million"]
        left.plot(grid, [fixed + per_million * x / 1e6 for x in grid], "--", color=line[0].get_color(), alpha=0.6)
        right.plot(
            [r["events"] for r in done], [r["stages"][stage]["peak_rss_mb"] / 1024 for r in done], "o-", label=stage
        )
    left.set(xscale="log", yscale="log", xlabel="events", ylabel="process seconds (2 cores)")
    left.set_title("seconds per stage: measured (dots), fixed + linear model (dashes) to 100M")
    right.set(xscale="log", xlabel="events", ylabel="peak RSS of the process tree (GB)", title="peak memory per stage")
    left.legend()
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write(out: Path, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs and their cost model to `out`; returns the model."""
    fitted = model(runs)
    previous = json.loads(out.read_text()) if out.exists() else {}
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "conf": args.conf,
        # the first measurement's --set (the logs were generated with it); each stage records its own
        "sets": previous.get("sets", args.set),
        "note": "process_seconds: each stage in a fresh process, start-up counted; load: the 1-minute load"
        " average as the stage ended (2 cores: above 2, other work shared them); commit: the code it ran;"
        " replaced: the stage's figures before it was measured again (each with its own replaced);"
        " the model is fitted on process_seconds",
        "runs": runs,
        "model": fitted,
        **({"provenance": previous["provenance"]} if "provenance" in previous else {}),  # written by hand
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return fitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000, 10_000_000])
    parser.add_argument("--conf", default="conf/realistic.yaml")
    parser.add_argument("--set", action="append", default=[], help="more config overrides, section.key=value")
    parser.add_argument("--root", default="/tmp/mtlrec-bench-scaling", help="where the logs and tables go")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "scaling.json"))
    parser.add_argument("--refit", action="store_true", help="fit and plot the runs already in --out again")
    parser.add_argument(
        "--stages",
        nargs="+",
        choices=STAGES,
        default=list(STAGES),
        help="measure only these (e.g. again after a change); the others' figures stay those in --out",
    )
    args = parser.parse_args()
    out = Path(args.out)
    earlier = {r["events"]: r for r in json.loads(out.read_text())["runs"]} if out.exists() else {}
    runs = dict(earlier)
    if not args.refit:
        for events in sorted(args.sizes):
            runs[events] = measure(events, args, earlier.get(events))
            write(out, args, [runs[e] for e in sorted(runs)])  # a stopped run keeps the sizes it finished
    fitted = write(out, args, [runs[e] for e in sorted(runs)])
    plot([runs[e] for e in sorted(runs)], fitted, out.with_suffix(".png"))
    for stage, m in fitted.items():
        print(
            f"{stage:>9}: {m['fixed_seconds']:.0f} s + {m['seconds_per_million']:.1f} s per million events,"
            f" ~{m[f'seconds_at_{EXTRAPOLATE_TO // 1_000_000}M']:,} s at 100M, rise per million {m['per_million_rise']}"
        )
    print(f"written {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
