"""Quality of every model against the generator's ground truth (issue 7).

Generates a log (>= 2M impressions at the defaults), ingests it and builds features
once, then trains and evaluates each model in turn on the same tables, and writes the
table of test AUC, lift share and logloss per model and task:

    lift share = (AUC - 0.5) / (oracle AUC - 0.5)

where the oracle scores each test exposure by its true probability (click: p_click;
purchase: p_click * p_purchase_given_click, i.e. purchase over all exposures, as the
`purchase` label is). Models are chosen on valid (early stopping); test is touched
once per model, by `evaluate`.

    .venv/bin/python bench/quality.py                       # full size, ~2M impressions
    .venv/bin/python bench/quality.py --events 40000 --models mmoe,single_task --root /tmp/q

Results: bench/results/quality.json and a Markdown table on stdout (for the README).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from mtlrec import storage
from mtlrec.cli import main
from mtlrec.config import load_config
from mtlrec.models import MODELS
from mtlrec.spark_session import get_spark

RESULTS = Path(__file__).resolve().parent / "results"
# the generator's own population (4000 users, 1500 items); ~0.83 of the events are
# impressions that become samples, so 2.5M events give just over 2M of them
EVENTS, USERS, ITEMS = 2_500_000, 4000, 1500
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
        "| model | task | test AUC | oracle AUC | lift share | logloss | best epoch |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['task']} | {r['auc']:.4f} | {r['oracle_auc']:.4f} | "
            f"{r['lift_share']:.3f} | {r['logloss']:.4f} | {r['best_epoch']} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", default="conf/local.yaml")
    parser.add_argument("--root", default="data/bench-quality", help="paths.root of the benchmark run")
    parser.add_argument("--events", type=int, default=EVENTS, help="generate.events (~0.83 become samples)")
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--items", type=int, default=ITEMS)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    parser.add_argument("--reuse", action="store_true", help="reuse the tables of the latest run under --root")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra config overrides")
    return parser.parse_args(argv)


def prepare(args: argparse.Namespace, timings: dict[str, float]) -> list[str]:
    """The config overrides of the benchmark; generates and builds the tables unless `--reuse`."""
    sets = [
        f"paths.root={args.root}",
        f"generate.events={args.events}",
        f"generate.users={args.users}",
        f"generate.items={args.items}",
        # one embedding row per id: the vocabulary must fit the tables
        f"model.user_buckets={args.users + 16}",
        f"model.item_buckets={args.items + 16}",
        "train.baselines=[]",  # every model is trained here anyway
        *args.overrides,
    ]
    if not args.reuse:
        for name in ("generate", "ingest", "features"):
            began = time.perf_counter()
            stage(name, args.conf, sets, *(["--new-run"] if name == "generate" else []))
            timings[name] = time.perf_counter() - began
    return sets


def run(args: argparse.Namespace) -> dict[str, Any]:
    timings: dict[str, float] = {}
    # Spark's JVM starts before Ray, as in `mtlrec run`: launched after a Ray Train run
    # in the same process, it was seen to leave the driver's Ray (GCS) client hanging
    get_spark(load_config(args.conf, [f"paths.root={args.root}", *args.overrides]).spark)
    sets = prepare(args, timings)
    rows: list[dict[str, Any]] = []
    for model in args.models.split(","):
        began = time.perf_counter()
        stage("train", args.conf, [*sets, f"model.name={model}", *PER_MODEL.get(model, [])])
        stage("evaluate", args.conf, sets)
        timings[model] = time.perf_counter() - began
        summary = storage.read_json(f"{storage.absolute(args.root)}/runs/latest.json")
        metadata = storage.read_json(f"{summary['artifacts']['model']}/metadata.json")
        for task, test in summary["metrics"]["test"].items():
            oracle = summary["metrics"]["oracle"][task]["auc"]
            rows.append(
                {
                    "model": model,
                    "task": task,
                    "auc": test["auc"],
                    "oracle_auc": oracle,
                    "lift_share": lift(test["auc"], oracle),
                    "logloss": test["logloss"],
                    "best_epoch": metadata["best_epoch"],
                    "valid": {k: v for k, v in metadata["metrics"].items() if k.startswith("valid/")},
                }
            )
        print(markdown([r for r in rows if r["model"] == model]), flush=True)
    samples = summary["stages"]["features"]
    return {
        "sets": sets,
        "samples_rows": samples.get("rows_out"),
        "seconds": timings,
        "rows": rows,
        "table": markdown(rows),
    }


def main_bench(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quality.json").write_text(json.dumps(result, indent=2))
    print(result["table"])
    print(f"samples rows: {result['samples_rows']}; written {RESULTS / 'quality.json'}")
    if (result["samples_rows"] or 0) < MIN_IMPRESSIONS:
        print(f"note: fewer than {MIN_IMPRESSIONS} samples, below the issue's size for the quality table")
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
