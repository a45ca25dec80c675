"""The realistic generator profile measured: rates, oracle AUCs, Zipf shape, time, memory.

Runs `mtlrec generate` once on `conf/realistic.yaml` (or a smaller size via the
arguments) in this process, then reads the log it wrote (JSON lines or Parquet) and
joins each impression's labels (a click or purchase line with its event id) with the
written `truth` table:

- CTR (clicks per impression) and purchases per click, as the log holds them (the
  ~0.1% of lines dirt broke, e.g. truncated or without an id, lose their label; bots
  and re-sent lines are left out);
- the oracle AUCs over all impressions (scikit-learn): click scored by `p_click`,
  purchase by `p_click * p_purchase_given_click`;
- the shape of activity and popularity: share of the impressions of the top 1% and
  10% of users and items (by their configured count), median impressions per user and
  item that has any, how many of them have none;
- CTR by slot position and device, purchases per click by device;
- the stage's wall seconds and the peak resident memory of this process tree (driver
  JVM included, polled from /proc) and of the Python driver (`resource.getrusage`).

    .venv/bin/python bench/generate_profile.py          # full size (~2M impressions)
    .venv/bin/python bench/generate_profile.py --users 20000 --items 5000 --events 210000 --out /tmp/p.json
    .venv/bin/python bench/generate_profile.py --reuse   # the figures of the log already under --root

Results: bench/results/generate_profile.json (or `--out`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from proctree import tree_rss  # a module of this script's folder (bench/ is not a package)
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sklearn.metrics import roc_auc_score

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.cli import main
from mtlrec.config import Config, load_config
from mtlrec.generate import realistic, stage
from mtlrec.run import paths
from mtlrec.spark_session import get_spark

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", default=str(REPO / "conf" / "realistic.yaml"))
    parser.add_argument("--root", default="data/bench-generate-profile", help="paths.root of the generated log")
    parser.add_argument("--users", type=int, help="generate.users (default: the conf's)")
    parser.add_argument("--items", type=int, help="generate.items (default: the conf's)")
    parser.add_argument("--events", type=int, help="generate.events (default: the conf's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra config overrides")
    parser.add_argument("--reuse", action="store_true", help="measure the log under --root, do not generate")
    parser.add_argument("--out", default=str(RESULTS / "generate_profile.json"))
    return parser.parse_args(argv)


def overrides(args: argparse.Namespace) -> list[str]:
    sizes = {"users": args.users, "items": args.items, "events": args.events}
    return [
        f"paths.root={args.root}",
        *[f"generate.{k}={v}" for k, v in sizes.items() if v is not None],
        *args.overrides,
    ]


def generate(conf: str, sets: list[str]) -> dict[str, Any]:
    """Run the stage in this process: its wall seconds and peak memory."""
    peak, done = [0], threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(os.getpid()))
            time.sleep(0.5)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    began = time.perf_counter()
    code = main(["generate", "--conf", conf, "--new-run", *[a for s in sets for a in ("--set", s)]])
    seconds = time.perf_counter() - began
    done.set()
    watcher.join()
    if code != 0:
        raise SystemExit(f"mtlrec generate failed (exit {code})")
    return {
        "seconds": round(seconds, 1),
        "peak_rss_tree_mb": peak[0] >> 20,
        "peak_rss_python_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10,
        "load_1min": round(os.getloadavg()[0], 1),
    }


def labelled(cfg: Config) -> DataFrame:
    """One row per impression of the log: its labels, user and item, truth and context."""
    spark = get_spark(cfg.spark)
    raw = paths.raw(cfg.paths.root)
    if cfg.generate.format == "parquet":
        lines = spark.read.parquet(raw).select(S.EVENT_ID, S.USER_ID, S.ITEM_ID)
    elif cfg.generate.format == "json":
        text = F.col("value")
        fields = (S.EVENT_ID, S.USER_ID, S.ITEM_ID)
        lines = spark.read.text(raw).select(*[F.get_json_object(text, f"$.{f}").alias(f) for f in fields])
    else:
        raise SystemExit("bench/generate_profile.py reads JSON or Parquet logs")
    # the event id names the impression and the step (a spoiled event type does not)
    pattern = r"^ev-(\d[\d-]*)-(impression|click|cart|purchase)$"
    steps = lines.select(
        F.regexp_extract(S.EVENT_ID, pattern, 1).alias("key"),
        F.regexp_extract(S.EVENT_ID, pattern, 2).alias("step"),
        S.USER_ID,
        S.ITEM_ID,
    ).where(F.col("key") != "")
    is_impression = F.col("step") == S.IMPRESSION
    per_impression = steps.groupBy("key").agg(
        F.max((F.col("step") == S.CLICK).cast("int")).alias(S.CLICK),
        F.max((F.col("step") == S.PURCHASE).cast("int")).alias(S.PURCHASE),
        F.max(F.when(is_impression, F.col(S.USER_ID))).alias(S.USER_ID),
        F.max(F.when(is_impression, F.col(S.ITEM_ID))).alias(S.ITEM_ID),
    )
    truth = tables.read(spark, paths.table(cfg.paths.root, S.TRUTH_TABLE))
    key = F.regexp_extract(S.EVENT_ID, r"^ev-(.+)-impression$", 1)
    return truth.withColumn("key", key).join(per_impression, on="key", how="inner")


def shape(counts: np.ndarray, population: int) -> dict[str, Any]:
    """Share of the impressions of the top 1% and 10% of `population`, medians, idle ids."""
    ranked = np.sort(counts)[::-1]
    total = ranked.sum()
    return {
        "population": population,
        "with_impressions": int(len(counts)),
        "without_impressions": int(population - len(counts)),
        "top_1pct_share": float(ranked[: max(1, population // 100)].sum() / total),
        "top_10pct_share": float(ranked[: max(1, population // 10)].sum() / total),
        "median_impressions": float(np.median(counts)),
        "max_impressions": int(ranked[0]),
    }


def counts(rows: DataFrame, key: str) -> np.ndarray:
    """Impressions per value of `key` (an id spoiled away by dirt left out)."""
    grouped = rows.where(F.col(key).isNotNull()).groupBy(key).agg(F.count(F.lit(1)).alias("n"))
    return np.array([r["n"] for r in grouped.collect()])


def rates_by(rows: DataFrame, column: str) -> dict[str, dict[str, float]]:
    grouped = rows.groupBy(column).agg(
        F.count(F.lit(1)).alias("n"), F.sum(S.CLICK).alias("clicks"), F.sum(S.PURCHASE).alias("buys")
    )
    return {
        str(r[column]): {
            "impressions": int(r["n"]),
            "ctr": r["clicks"] / r["n"],
            "purchase_per_click": r["buys"] / max(r["clicks"], 1),
        }
        for r in grouped.orderBy(column).collect()
    }


def figures(cfg: Config) -> dict[str, Any]:
    rows = labelled(cfg).persist()
    local = rows.select(S.P_CLICK, S.P_PURCHASE_GIVEN_CLICK, S.CLICK, S.PURCHASE).toPandas()
    impressions, clicks, buys = len(local), int(local[S.CLICK].sum()), int(local[S.PURCHASE].sum())
    users, items = counts(rows, S.USER_ID), counts(rows, S.ITEM_ID)
    result = {
        "impressions": impressions,
        "clicks": clicks,
        "purchases": buys,
        "ctr": clicks / impressions,
        "purchase_per_click": buys / clicks,
        "mean_p_click": float(local[S.P_CLICK].mean()),
        "oracle_auc": {
            "click": float(roc_auc_score(local[S.CLICK], local[S.P_CLICK])),
            "purchase": float(roc_auc_score(local[S.PURCHASE], local[S.P_CLICK] * local[S.P_PURCHASE_GIVEN_CLICK])),
        },
        "users": shape(users, cfg.generate.users),
        "items": shape(items, cfg.generate.items),
    }
    if cfg.generate.profile == "realistic":
        result["by_position"] = rates_by(rows, realistic.POSITION)
        result["by_device"] = rates_by(rows, realistic.DEVICE)
        result["by_hour"] = {h: v["ctr"] for h, v in rates_by(rows, realistic.HOUR).items()}
    rows.unpersist()
    return result


def run(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    sets = overrides(args)
    cfg = load_config(args.conf, sets)
    if args.reuse:
        summary = storage.read_json(f"{paths.runs(cfg.paths.root)}/latest.json")
        measured = {"seconds": summary["stages"]["generate"]["seconds"], "reused": True}
    else:
        measured = generate(args.conf, sets)
    result = {"conf": args.conf, "sets": sets, "generate": measured, **figures(cfg)}
    manifest = storage.read_json(stage.manifest_path(paths.raw(cfg.paths.root)))
    result["lines"] = manifest["totals"]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    summary = {k: result[k] for k in ("impressions", "ctr", "purchase_per_click", "oracle_auc")}
    print(json.dumps({**summary, "generate": measured}, indent=2))
    print(f"written {args.out}")
    return result


if __name__ == "__main__":
    run()
