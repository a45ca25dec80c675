"""Ranking strategies side by side on a data root the pipeline built (issue 12).

Each strategy of a grid ranks the same scored candidates, by `evaluate`'s own ranking
(the serving path `score` uses, then `ranking_metrics`), with most-popular beside: as of
the first valid day against the valid days' purchases (where a strategy is chosen),
and as of the first test day against the test days' purchases (reported once, for the
one chosen). Only the buyers of each period are scored, as `evaluate` does. Writes
recall@K, precision@K, NDCG@K and hit rate per strategy and period, each with its
ratio to most-popular (30-day clicks), to `bench/results/strategies.json`.

    .venv/bin/python bench/strategies.py --root /tmp/rscal/2000000
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.config import Config, config_from_dict
from mtlrec.evaluation.stage import MOST_POPULAR, ranking
from mtlrec.run.summary import RunSummary
from mtlrec.serving.inference import ServedModel
from mtlrec.spark_session import get_spark

GRID: dict[str, dict[str, float]] = {
    "exposure": {"exposure": 1.0},
    "ctcvr": {"ctcvr": 1.0},
    "ctcvr_x_exposure^0.5": {"ctcvr": 1.0, "exposure": 0.5},
    "ctcvr_x_exposure (default purchases)": {"ctcvr": 1.0, "exposure": 1.0},
    "ctcvr_x_exposure^1.5": {"ctcvr": 1.0, "exposure": 1.5},
    "ctcvr_x_exposure^2": {"ctcvr": 1.0, "exposure": 2.0},
    "ctcvr_x_popularity": {"ctcvr": 1.0, "popularity": 1.0},
    "ctcvr_x_popularity^2": {"ctcvr": 1.0, "popularity": 2.0},
    "ctcvr^0.5_x_exposure": {"ctcvr": 0.5, "exposure": 1.0},
    "click_x_exposure": {"click": 1.0, "exposure": 1.0},
}
BASELINE = f"popular/{MOST_POPULAR}"  # evaluate's ranking adds it beside the model's strategies


def period(samples: DataFrame, split: str) -> tuple[dt.date, dt.date]:
    row = samples.where(F.col(S.SPLIT) == F.lit(split)).agg(F.min(S.DT).alias("a"), F.max(S.DT).alias("b")).first()
    assert row is not None and row["a"] is not None, f"the {split} split is empty"
    return row["a"], row["b"]


def measure(
    spark: SparkSession, cfg: Config, model: ServedModel, days: tuple[dt.date, dt.date], k: int
) -> dict[str, dict[str, float]]:
    """`<model>/<strategy>` -> ranking metrics at `k`, as `evaluate` computes them, for the
    grid's strategies: lists as of `days[0]` against the purchases of `days`."""
    grid = dataclasses.replace(
        cfg,
        score=dataclasses.replace(cfg.score, strategies=GRID),
        evaluate=dataclasses.replace(cfg.evaluate, ranking_k=k),
    )
    out = ranking(spark, grid, {model.name: model}, days=days)
    base = out[BASELINE]["recall"]
    for values in out.values():
        values["recall_vs_most_popular"] = values["recall"] / base if base else float("nan")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="a data root `mtlrec run` built (its latest run)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "strategies.json"))
    args = parser.parse_args()

    summary = RunSummary.load(args.root)
    cfg = config_from_dict(summary.config, source=f"{args.root}/runs/latest.json")
    spark = get_spark(cfg.spark)
    model = ServedModel.load(summary.model_path())
    samples_ref = model.tables[S.SAMPLES_TABLE]
    samples = tables.read(spark, samples_ref.path, samples_ref.version)
    began = time.perf_counter()
    report: dict[str, Any] = {
        "root": args.root,
        "k": args.k,
        "model": model.name,
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "grid": GRID,
    }
    for split in (S.VALID, S.TEST):
        days = period(samples, split)
        report[split] = {"days": [d.isoformat() for d in days], **measure(spark, cfg, model, days, args.k)}
        print(f"{split} {days[0]}..{days[1]}", flush=True)
        for name, v in report[split].items():
            if isinstance(v, dict):
                print(
                    f"  {name:40s} recall {v['recall']:.4f} ({v['recall_vs_most_popular']:.2f}x) "
                    f"ndcg {v['ndcg']:.4f} users {v['users']}",
                    flush=True,
                )
    valid = {n: v for n, v in report[S.VALID].items() if isinstance(v, dict) and n != BASELINE}
    chosen = max(valid, key=lambda n: valid[n]["recall"])
    report["chosen_on_valid"] = chosen
    report["chosen_on_test"] = report[S.TEST][chosen]
    report["seconds"] = round(time.perf_counter() - began, 1)
    report["load"] = round(os.getloadavg()[0], 1)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"chosen on valid: {chosen}; test recall {report[S.TEST][chosen]['recall']:.4f} "
        f"({report[S.TEST][chosen]['recall_vs_most_popular']:.2f}x most-popular); written {args.out}"
    )


if __name__ == "__main__":
    main()
