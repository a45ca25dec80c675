"""Training throughput: the streaming Ray pipeline against in-memory tensors (issue 7).

On the same samples table and the same model (an MMoE of ~4M parameters, most of them
embedding rows: emb 16, 4 experts, batch 2048), side by side in one run:

- the ceiling: the train split loaded into memory as ready tensors, trained in this
  one process with `mtlrec.train.loop.train_epoch`, once with the default recipe
  (dense table gradients, Adam with L2 on every parameter; the result key keeps its
  old name, `dense_adamw`) and once with sparse embedding gradients + SparseAdam;
- the Ray pipeline: `run_training` (Ray Train workers streaming their shard from
  `ray.data.read_delta`) with 1 and with 2 workers, in the faster ceiling's mode.

Samples/s count training only (not validation or checkpoints); the Ray figure is the
last epoch's (the first one also starts Ray Data). Goals: Ray with 1 worker >= 0.7 x
the faster ceiling; 2 workers on 2 cores no slower than 1.

    .venv/bin/python bench/train.py --reuse --root data/bench-quality   # tables of bench/quality.py
    .venv/bin/python bench/train.py --users 20000 --items 5000 --events 250000 --root /tmp/t  # small tables

Results: bench/results/train.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from typing import Any

import deltalake
import torch
from quality import CONF, RESULTS, prepare  # a module of this script's folder (bench/ is not a package)

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.config import Config, load_config
from mtlrec.models import Batch, collate
from mtlrec.models.batch import WEIGHT
from mtlrec.ray_cluster import ensure_ray
from mtlrec.train.config import TrainConfig
from mtlrec.train.driver import run_training
from mtlrec.train.loop import train_epoch
from mtlrec.train.objective import build_objective, build_optimizers, model_layout, use_sparse_gradients

MODEL = [
    "model.name=mmoe",
    "model.embedding_dim=16",
    "model.num_experts=4",
    "model.user_buckets=196608",  # ~4M parameters, most of them embedding rows
    "model.item_buckets=49152",
    "train.batch_size=2048",
    "train.patience=0",
]


def in_memory_batches(cfg: Config, path: str, version: int, max_rows: int | None) -> list[Batch]:
    layout = model_layout(cfg)  # with the context fields of a resolved config
    table = deltalake.DeltaTable(path, version=version)
    names = {f.name for f in table.schema().fields}
    columns = [*layout.columns, *cfg.train.tasks, *([WEIGHT] if WEIGHT in names else [])]
    frame = table.to_pandas(columns=columns, filters=[(S.SPLIT, "=", S.TRAIN)])
    frame = frame.sample(frac=1.0, random_state=0).head(max_rows)
    arrays = {c: frame[c].to_numpy() for c in columns}
    size = cfg.train.batch_size
    return [collate({c: a[i : i + size] for c, a in arrays.items()}, layout) for i in range(0, len(frame), size)]


def sparse_recipe(tc: TrainConfig) -> TrainConfig:
    """Sparse table gradients and SparseAdam; the tables' per-step decay needs dense ones."""
    return dataclasses.replace(tc, sparse_embeddings=True, embedding_decay=0.0)


def ceiling(cfg: Config, batches: list[Batch], sparse: bool, epochs: int) -> float:
    """Samples/s of `train_epoch` on ready tensors in this process, after a short warm-up."""
    torch.manual_seed(cfg.train.seed)
    tc = sparse_recipe(cfg.train) if sparse else cfg.train
    objective = build_objective(cfg)
    if sparse:
        use_sparse_gradients(objective)
    optimizers = build_optimizers(objective, tc)
    train_epoch(objective, batches[:5], optimizers)
    began = time.perf_counter()
    rows = sum(train_epoch(objective, batches, optimizers)["rows"] for _ in range(epochs))
    return rows / (time.perf_counter() - began)


def ray_throughput(cfg: Config, path: str, version: int, workers: int, root: str) -> dict[str, Any]:
    trial = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, workers=workers))
    result = run_training(
        trial,
        samples_path=path,
        samples_version=version,
        storage_path=f"{root}/ray-bench",
        name=f"bench-{workers}w-{time.strftime('%Y%m%dT%H%M%S')}",
    )
    return {
        "samples_per_s": result.history[-1]["train/samples_per_s"],
        "per_epoch": [m["train/samples_per_s"] for m in result.history],
        "rows_per_epoch": result.history[-1]["train/rows"],
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", default=CONF)
    parser.add_argument("--root", default="data/bench-quality")
    parser.add_argument("--events", type=int, help="generate.events (default: the conf's)")
    parser.add_argument("--users", type=int, help="generate.users (default: the conf's)")
    parser.add_argument("--items", type=int, help="generate.items (default: the conf's)")
    parser.add_argument("--reuse", action="store_true", help="reuse the tables of the latest run under --root")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each Ray run and of each ceiling")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the in-memory ceiling")
    parser.add_argument("--max-rows", type=int, default=None, help="train rows loaded for the ceiling")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sets = prepare(args, {})
    cfg = load_config(args.conf, [*sets, *MODEL, f"train.epochs={args.epochs}", *args.overrides])
    root = cfg.paths.root
    samples = storage.read_json(f"{root}/runs/latest.json")["tables"][S.SAMPLES_TABLE]
    path, version = storage.arrow_uri(samples["path"]), int(samples["version"])

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as the Ray workers do (mtlrec/train/worker.py)
    load_before = os.getloadavg()
    batches = in_memory_batches(cfg, path, version, args.max_rows)
    ceilings = {
        "dense_adamw": ceiling(cfg, batches, sparse=False, epochs=args.epochs),
        "sparse_adam": ceiling(cfg, batches, sparse=True, epochs=args.epochs),
    }
    del batches
    faster = max(ceilings, key=lambda k: ceilings[k])
    ray_cfg = dataclasses.replace(cfg, train=sparse_recipe(cfg.train)) if faster == "sparse_adam" else cfg
    ensure_ray(cfg.ray)
    ray = {f"{w}_worker{'s' if w > 1 else ''}": ray_throughput(ray_cfg, path, version, w, root) for w in (1, 2)}
    one, two = ray["1_worker"]["samples_per_s"], ray["2_workers"]["samples_per_s"]
    result = {
        "model_params": sum(p.numel() for p in build_objective(cfg).model.parameters()),
        "batch_size": cfg.train.batch_size,
        "ceiling_threads": args.threads,
        "in_memory": ceilings,
        "ray_mode": faster,
        "ray": ray,
        "ratios": {"ray_1_worker_over_ceiling": one / ceilings[faster], "ray_2_over_1_workers": two / one},
        "goals": {"ray_1_worker_over_ceiling": ">= 0.7", "ray_2_over_1_workers": ">= 1.0"},
        # 1/5/15-minute load averages: on a shared machine, what else ran beside the bench
        "load_average": {"start": load_before, "end": os.getloadavg(), "cpus": os.cpu_count()},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
