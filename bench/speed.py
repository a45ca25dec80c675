"""Every stage beside the tool a user would pick instead, on the logs of a scaling run (issue 13).

    .venv/bin/python bench/scaling.py --sizes 1000000 2000000 --root /tmp/rscal   # the pipeline
    .venv/bin/python bench/speed.py --root /tmp/rscal                              # its peers

`bench/scaling.py` ran each stage in a fresh process on the realistic profile and kept
its logs and tables under `--root/<events>`; this script runs, on those same files and
tables, what each stage is compared with, and writes the ratios (issue 13's goals):

- ingest: DuckDB doing ingest's job on the same raw JSON files, 2 threads
  (`bench/duckdb_ingest.py`); `ingest / duckdb` over process seconds, goal <= 4;
- features: a floor, Spark reading `events` and writing one Delta table of
  per-(user, category, day) counts in a fresh process; `features / floor`, goal <= 3;
- evaluate: its seconds over train's, both from the scaling run (goal <= 0.5), and the
  same without the report's extras (behaviour and data-quality sections, feature
  importance), which the stage times apart;
- train (the largest size, or `--train-at`): on the run's samples and its resolved
  model (tables sized from the vocabulary, its context fields), the in-memory ceiling
  (ready tensors, one process, 2 threads, one epoch after a warm-up) with the default
  recipe, the Ray pipeline with 1 worker and the default recipe (the second of two
  epochs; goal >= 0.7 of the ceiling), the pipeline as the stage ran it (2 workers,
  its last epoch) and torch-rechub's MMoE, one epoch of its own `MTLTrainer` (goal: the
  pipeline >= 2x the peer's samples/s);
- score (the largest size, or `--score-at`): `bench/score.py` on the run's scoring day,
  its stage figures taken from the scaling run (goals: Spark inference >= 0.5 of
  in-process inference per core, the whole stage >= 0.25).

Results, with the load average after each part: bench/results/speed.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from ingest import duckdb_job  # modules of this script's folder (bench/ is not a package)
from peer import train_peer
from proctree import run_logged
from scaling import overrides
from train import ceiling, in_memory_batches, ray_throughput

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.config import Config, load_config
from mtlrec.ray_cluster import ensure_ray
from mtlrec.run.summary import RunSummary
from mtlrec.train.publish import resolved

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# the features floor: read `events`, count per (user, category, day), write one Delta table
FEATURES_FLOOR = """
import sys
from pyspark.sql import functions as F
from mtlrec import schema as S, tables
from mtlrec.config import load_config
from mtlrec.run.summary import RunSummary
from mtlrec.spark_session import get_spark
cfg = load_config(sys.argv[1], sys.argv[2:])
events = RunSummary.load(cfg.paths.root).tables[S.EVENTS_TABLE]
spark = get_spark(cfg.spark)
counts = tables.read(spark, events.path, events.version).groupBy(S.USER_ID, S.CATEGORY_ID, S.DT).agg(
    F.count("*").alias("events")
)
tables.overwrite(counts, cfg.paths.root + "/bench-features-floor")
"""


def load() -> float:
    return round(os.getloadavg()[0], 1)


def features_floor(root: Path, conf: str, sets: list[str]) -> dict[str, Any]:
    wall, peak = run_logged([PYTHON, "-c", FEATURES_FLOOR, conf, *sets], cwd=REPO, log=root / "logs" / "floor.log")
    return {"process_seconds": round(wall, 1), "peak_rss_mb": peak >> 20, "load": load()}


def stage_ratios(run: dict[str, Any], root: Path, conf: str, sets: list[str]) -> dict[str, Any]:
    stages, metrics = run["stages"], run["metrics"]
    duckdb = duckdb_job(root)
    floor = features_floor(root, conf, sets)
    extras = (metrics.get("importance_seconds") or 0.0) + (metrics.get("report_extras_seconds") or 0.0)
    return {
        "ingest": {
            "mtlrec_process_seconds": stages["ingest"]["process_seconds"],
            "mtlrec_clean": metrics["ingest"]["clean"],
            "duckdb": duckdb,
            "ratio": round(stages["ingest"]["process_seconds"] / duckdb["process_seconds"], 2),
            "goal": "<= 4",
        },
        "features": {
            "mtlrec_process_seconds": stages["features"]["process_seconds"],
            "floor": floor,
            "ratio": round(stages["features"]["process_seconds"] / floor["process_seconds"], 2),
            "goal": "<= 3",
        },
        "evaluate": {
            "evaluate_seconds": stages["evaluate"]["seconds"],
            "train_seconds": stages["train"]["seconds"],
            "report_extras_seconds": round(extras, 1),
            "ratio": round(stages["evaluate"]["seconds"] / stages["train"]["seconds"], 2),
            "ratio_without_extras": round((stages["evaluate"]["seconds"] - extras) / stages["train"]["seconds"], 2),
            "goal": "<= 0.5",
        },
    }


def stage_samples_per_s(root: Path) -> dict[str, Any]:
    """The train stage's own last epoch (2 DDP workers, the default recipe), from its artifact."""
    history = storage.read_json(f"{RunSummary.load(str(root)).model_path()}/metadata.json")["history"]
    per_epoch = [e["train/samples_per_s"] for e in history]
    return {"samples_per_s": per_epoch[-1], "per_epoch": per_epoch}


def train_ratios(root: Path, conf: str, sets: list[str]) -> dict[str, Any]:
    """One epoch of the ceiling after a warm-up; the last of two epochs of the 1-worker Ray
    run (its first also starts Ray Data); one epoch of the peer."""
    summary = RunSummary.load(str(root))
    base = load_config(conf, [*sets, "train.epochs=2", "train.patience=0"])
    cfg: Config = resolved(base, summary)[0]
    samples = summary.tables[S.SAMPLES_TABLE]
    path, version = storage.arrow_uri(samples.path), samples.version
    torch.set_num_threads(2)
    torch.set_flush_denormal(True)  # as the Ray workers do
    batches = in_memory_batches(cfg, path, version, None)
    in_memory = ceiling(cfg, batches, sparse=False, epochs=1)
    del batches
    after_ceiling = load()
    ensure_ray(cfg.ray)
    one_worker = ray_throughput(cfg, path, version, 1, str(root))
    after_ray = load()
    peer = train_peer(dataclasses.replace(base, train=dataclasses.replace(base.train, epochs=1)), str(root))
    pipeline = stage_samples_per_s(root)
    return {
        "model_params": sum(t.numel() for t in torch.load(f"{summary.model_path()}/model.pt").values()),
        "train_rows": one_worker["rows_per_epoch"],
        "ceiling_default_recipe": {"samples_per_s": in_memory, "threads": 2, "load": after_ceiling},
        "ray_1_worker_default_recipe": {**one_worker, "load": after_ray},
        "ray_2_workers_as_the_stage_ran": pipeline,
        "torch_rechub_mmoe": {
            "samples_per_s": peer["samples_per_s"],
            "epochs": peer["epochs_run"],
            "batch_size": peer["trainer"]["batch_size"],
            "params": peer["model"]["params"],
            "load": load(),
        },
        "ratios": {
            "ray_1_worker_over_ceiling": round(one_worker["samples_per_s"] / in_memory, 3),
            "pipeline_over_torch_rechub": round(pipeline["samples_per_s"] / peer["samples_per_s"], 3),
            "ray_1_worker_over_torch_rechub": round(one_worker["samples_per_s"] / peer["samples_per_s"], 3),
        },
        "goals": {"ray_1_worker_over_ceiling": ">= 0.7", "pipeline_over_torch_rechub": ">= 2"},
    }


def score_ratios(root: Path, conf: str, sets: list[str]) -> dict[str, Any]:
    out = root / "bench-score.json"
    flags = [a for s in sets if not s.startswith("paths.root=") for a in ("--set", s)]
    cmd = [PYTHON, "bench/score.py", "--root", str(root), "--conf", conf, "--out", str(out), "--stage-from-summary"]
    run_logged([*cmd, *flags], cwd=REPO, log=root / "logs" / "bench-score.log")
    result: dict[str, Any] = json.loads(out.read_text())
    return {**result, "load": load(), "goals": {"warm_ratio": ">= 0.5", "score_stage.ratio": ">= 0.25"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="/tmp/mtlrec-bench-scaling", help="the scaling run's --root")
    parser.add_argument("--scaling", help="its JSON (default: bench/results/scaling.json)")
    parser.add_argument("--train-at", type=int, help="the size (events) of the train comparison; default the largest")
    parser.add_argument("--score-at", type=int, help="the size (events) of the score comparison; default the largest")
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--no-score", action="store_true")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "speed.json"))
    args = parser.parse_args()
    scaling = json.loads(Path(args.scaling or REPO / "bench" / "results" / "scaling.json").read_text())
    conf = scaling["conf"]
    began = time.perf_counter()
    sizes: dict[str, Any] = {}
    for run in scaling["runs"]:
        root = Path(args.root) / str(run["events"])
        sets = overrides(run["events"], root, scaling["sets"])
        print(f"{run['events']:,} events: ingest, features and evaluate beside their peers ...", flush=True)
        sizes[str(run["events"])] = {"lines": run["lines"], **stage_ratios(run, root, conf, sets)}
    largest = max(run["events"] for run in scaling["runs"])
    if not args.no_train:
        events = args.train_at or largest
        root = Path(args.root) / str(events)
        print(f"{events:,} events: train beside its ceiling and torch-rechub ...", flush=True)
        sizes[str(events)]["train"] = train_ratios(root, conf, overrides(events, root, scaling["sets"]))
    if not args.no_score:
        events = args.score_at or largest
        root = Path(args.root) / str(events)
        print(f"{events:,} events: score beside in-process inference ...", flush=True)
        sizes[str(events)]["score"] = score_ratios(root, conf, overrides(events, root, scaling["sets"]))
    report = {
        "machine": {"cpus": os.cpu_count()},
        "conf": conf,
        "scaling": args.scaling or "bench/results/scaling.json",
        "note": "process seconds with start-up counted; load: the 1-minute load average after each part"
        " (2 cores: above 2, other work shared them)",
        "seconds": round(time.perf_counter() - began),
        "sizes": sizes,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
