"""Quality of every model, and of a peer's MMoE, against the generator's ground truth (issues 7, 12).

Generates a log on the realistic profile (`conf/realistic.yaml`: 200k users, 50k
items, Zipf activity and popularity, ~4% CTR, ~2M impressions), ingests it and builds
features once, then trains and evaluates each mtlrec model in turn on the same
tables, and then the peer: torch-rechub's MMoE trained by torch-rechub's own
`MTLTrainer` on the same samples and inputs (`peer.py`). It writes the table of test
AUC, lift share and logloss per model and task:

    lift share = (AUC - 0.5) / (oracle AUC - 0.5)

where the oracle scores each test exposure by its true probability (click: p_click;
purchase: p_click * p_purchase_given_click, i.e. purchase over all exposures, as the
`purchase` label is). Models are chosen on valid (early stopping); test is touched
once per model, by `evaluate` (mtlrec) or `peer.train_peer` on the same test rows.
Samples/s count training epochs only; wall seconds are the `train` stage's (mtlrec:
Ray start, streaming, validation, checkpoints) or the whole peer's (Delta read,
epochs with validation, test scoring).

    .venv/bin/python bench/quality.py                       # full size, ~2M impressions
    .venv/bin/python bench/quality.py --users 20000 --items 5000 --events 250000 --models mmoe --root /tmp/q

Results: bench/results/quality.json and a Markdown table on stdout (for the README).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from peer import NAME as PEER
from peer import train_peer  # a module of this script's folder (bench/ is not a package)

from mtlrec import storage
from mtlrec.cli import main
from mtlrec.config import load_config
from mtlrec.models import MODELS
from mtlrec.spark_session import get_spark

RESULTS = Path(__file__).resolve().parent / "results"
# the realistic profile; its sizes (users, items, events) are the conf's unless shrunk
CONF = str(Path(__file__).resolve().parents[1] / "conf" / "realistic.yaml")
MIN_IMPRESSIONS = 2_000_000
# a model's own paper setting: AITM's behavioural expectation calibrator, alpha = 0.6
PER_MODEL = {"aitm": ["train.funnel_penalty=0.6"]}


def stage(name: str, conf: str, sets: list[str], *flags: str) -> None:
    code = main([name, "--conf", conf, *flags, *[a for s in sets for a in ("--set", s)]])
    if code != 0:
        raise SystemExit(f"mtlrec {name} failed (exit {code})")


def lift(auc: float, oracle: float) -> float:
    return (auc - 0.5) / (oracle - 0.5)


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | task | test AUC | oracle AUC | lift share | logloss | best epoch | samples/s | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['task']} | {r['auc']:.4f} | {r['oracle_auc']:.4f} | "
            f"{r['lift_share']:.3f} | {r['logloss']:.4f} | {r['best_epoch']} | "
            f"{r['samples_per_s']:,.0f} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", default=CONF)
    parser.add_argument("--root", default="data/bench-quality", help="paths.root of the benchmark run")
    parser.add_argument("--events", type=int, help="generate.events (default: the conf's)")
    parser.add_argument("--users", type=int, help="generate.users (default: the conf's)")
    parser.add_argument("--items", type=int, help="generate.items (default: the conf's)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    parser.add_argument("--no-peer", action="store_true", help="skip torch-rechub's MMoE")
    parser.add_argument("--reuse", action="store_true", help="reuse the tables of the latest run under --root")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra config overrides")
    return parser.parse_args(argv)


def prepare(args: argparse.Namespace, timings: dict[str, float]) -> list[str]:
    """The config overrides of the benchmark; generates and builds the tables unless `--reuse`."""
    sizes = {"events": args.events, "users": args.users, "items": args.items}
    sets = [
        f"paths.root={args.root}",
        *[f"generate.{k}={v}" for k, v in sizes.items() if v is not None],
        "train.baselines=[]",  # every model is trained here anyway
        *args.overrides,
    ]
    if not args.reuse:
        for name in ("generate", "ingest", "features"):
            began = time.perf_counter()
            stage(name, args.conf, sets, *(["--new-run"] if name == "generate" else []))
            timings[name] = time.perf_counter() - began
    return sets


def model_rows(model: str, summary: dict[str, Any], metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per task of the model `train` and `evaluate` just recorded in `summary`."""
    epochs = metadata["history"]
    speed = sum(e["train/rows"] for e in epochs) / sum(e["train/seconds"] for e in epochs)
    return [
        {
            "model": model,
            "task": task,
            "auc": test["auc"],
            "oracle_auc": summary["metrics"]["oracle"][task]["auc"],
            "lift_share": lift(test["auc"], summary["metrics"]["oracle"][task]["auc"]),
            "logloss": test["logloss"],
            "best_epoch": metadata["best_epoch"],
            "samples_per_s": speed,
            "seconds": summary["stages"]["train"]["seconds"],
            "valid": {k: v for k, v in metadata["metrics"].items() if k.startswith("valid/")},
        }
        for task, test in summary["metrics"]["test"].items()
    ]


def peer_rows(peer: dict[str, Any], oracle: dict[str, Any]) -> list[dict[str, Any]]:
    """The peer's rows; its test rows are evaluate's, so is the oracle."""
    best = peer["valid_auc"][peer["best_epoch"]]
    return [
        {
            "model": PEER,
            "task": task,
            "auc": test["auc"],
            "oracle_auc": oracle[task]["auc"],
            "lift_share": lift(test["auc"], oracle[task]["auc"]),
            "logloss": test["logloss"],
            "best_epoch": peer["best_epoch"],
            "samples_per_s": peer["samples_per_s"],
            "seconds": peer["seconds"],
            "valid": {f"valid/{t}_auc": auc for t, auc in best.items()},
        }
        for task, test in peer["test"].items()
    ]


def run(args: argparse.Namespace) -> dict[str, Any]:
    timings: dict[str, float] = {}
    # Spark's JVM starts before Ray, as in `mtlrec run`: launched after a Ray Train run
    # in the same process, it was seen to leave the driver's Ray (GCS) client hanging
    get_spark(load_config(args.conf, [f"paths.root={args.root}", *args.overrides]).spark)
    sets = prepare(args, timings)
    root = storage.absolute(args.root)
    rows: list[dict[str, Any]] = []
    for model in args.models.split(","):
        began = time.perf_counter()
        stage("train", args.conf, [*sets, f"model.name={model}", *PER_MODEL.get(model, [])])
        stage("evaluate", args.conf, sets)
        timings[model] = time.perf_counter() - began
        summary = storage.read_json(f"{root}/runs/latest.json")
        metadata = storage.read_json(f"{summary['artifacts']['model']}/metadata.json")
        rows += model_rows(model, summary, metadata)
        print(markdown([r for r in rows if r["model"] == model]), flush=True)
    peer = None
    if not args.no_peer:
        peer = train_peer(load_config(args.conf, sets), root)
        timings[PEER] = peer["seconds"]
        rows += peer_rows(peer, summary["metrics"]["oracle"])
        peer["evaluate_test_rows"] = summary["stages"]["evaluate"]["rows_in"]
        if peer["rows"]["test"] != peer["evaluate_test_rows"]:
            print(f"note: the peer scored {peer['rows']['test']} test rows, evaluate {peer['evaluate_test_rows']}")
        print(markdown([r for r in rows if r["model"] == PEER]), flush=True)
    return {
        "sets": sets,
        "conf": Path(args.conf).name,
        "samples_rows": summary["stages"]["features"].get("rows_out"),
        "seconds": timings,
        "rows": rows,
        "peer": peer,
        "table": markdown(rows),
    }


def main_bench(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    before = os.getloadavg()
    result = run(args)
    # the 2 cores are shared: the 1/5/15-minute load at the start and the end of the run
    result["load"] = {"start": list(before), "end": list(os.getloadavg())}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quality.json").write_text(json.dumps(result, indent=2))
    print(result["table"])
    print(f"samples rows: {result['samples_rows']}; written {RESULTS / 'quality.json'}")
    if (result["samples_rows"] or 0) < MIN_IMPRESSIONS:
        print(f"note: fewer than {MIN_IMPRESSIONS} samples, below the issue's size for the quality table")
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
