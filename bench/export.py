"""Exported model size and onnxruntime throughput on one thread (issue 15).

The default model (conf/local.yaml's `model` section, default layout) at a realistic
vocabulary (100k users, 50k items), random weights: the file size does not depend on
them and the speed hardly does. The graph is exported as `mtlrec export` does it, then
run by onnxruntime with `intra_op_num_threads=1` on batches of candidate rows, beside
the same model in torch on one thread (the in-process ceiling scoring measures).
Each timing runs for about `--seconds`; the 1-minute load average before and after
says whether other work shared the cores.

    .venv/bin/python bench/export.py

Results: bench/results/export.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from mtlrec.config import load_config
from mtlrec.export.formats import to_onnx
from mtlrec.layout import FeatureLayout, feature_layout
from mtlrec.models import build_model
from mtlrec.models.config import ModelConfig
from mtlrec.serving.graph import ServingModel, input_names

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def inputs(layout: FeatureLayout, model: ModelConfig, rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {f.name: rng.integers(0, model.buckets(f.source), size=rows, dtype=np.int64) for f in layout.sparse}
    return feeds | {"dense": rng.normal(size=(rows, len(layout.dense))).astype(np.float32)}


def rows_per_second(step: Callable[[], object], rows: int, seconds: float) -> float:
    step()  # warm-up: first-run allocations
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        runs += 1
    return runs * rows / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 4096], help="rows per call")
    parser.add_argument("--seconds", type=float, default=5.0, help="per timing")
    parser.add_argument("--out", default=str(RESULTS / "export.json"))
    args = parser.parse_args()

    cfg = load_config(ROOT / "conf" / "local.yaml")
    # the catalogue's categories: the former default table size
    model_cfg = dataclasses.replace(cfg.model, user_buckets=args.users, item_buckets=args.items, category_buckets=128)
    layout = feature_layout(cfg.train.tasks)
    torch.manual_seed(0)
    served = ServingModel(build_model(model_cfg, layout).eval(), layout, keep_rate=1.0).eval()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    data = to_onnx(served, layout).data
    export_seconds = time.perf_counter() - start

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    torch.set_num_threads(1)
    throughput = {}
    for rows in args.batches:
        feeds = inputs(layout, model_cfg, rows)
        tensors = [torch.from_numpy(feeds[name]) for name in input_names(layout)]
        with torch.no_grad():
            throughput[str(rows)] = {
                "onnxruntime_rows_per_s": round(rows_per_second(partial(session.run, None, feeds), rows, args.seconds)),
                "torch_rows_per_s": round(rows_per_second(partial(served, *tensors), rows, args.seconds)),
            }
        print(f"batch {rows}: {throughput[str(rows)]}", flush=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
        "onnxruntime": ort.__version__,
        "model": {
            "name": model_cfg.name,
            "user_buckets": args.users,
            "item_buckets": args.items,
            "parameters": sum(p.numel() for p in served.parameters()),
        },
        "onnx_bytes": len(data),
        "onnx_mb": round(len(data) / 1e6, 2),
        "export_seconds": round(export_seconds, 1),
        "threads": 1,
        "throughput_by_batch_rows": throughput,
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "note": "2 cores shared with other work: a load average above 1 means the timed thread was not alone",
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
