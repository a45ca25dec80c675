"""How much of the oracle's AUC a model can reach on a generated log: the learnable ceiling (issue 12).

The oracle of `evaluate` scores each test exposure by its true probability, which
holds the user's latent factors and biases. A model sees only what the log shows of a
user: their exposures before the test days, and whether each was clicked and bought.
On the realistic profile most users have a handful of exposures, so most of what the
oracle knows about them cannot be learnt from any log of this size.

This script measures that limit on the test rows `evaluate` scores. Each test
exposure is scored by its posterior-expected probability: everything but the user is
known exactly (the items' factors and biases, brand, device, slot, hour and price
effects, taken from the generator), and the user's factors and biases are inferred
from their train and valid exposures with the generator's own prior, by importance
sampling over `--draws` prior draws. Four rankings:

- `oracle`: the true probabilities (what `evaluate` reports as the oracle);
- `known_items_posterior_users`: the ceiling above. It is optimistic (a real model must
  learn the items and the context effects too), except for users whose posterior the
  draws describe poorly (effective sample size under 10): there it falls short;
- `known_items_posterior_users_upper`: the same, with those users given their true
  values: an upper bound of what any model can reach from the log;
- `known_items_no_users`: no user knowledge at all (the prior alone).

Lift share = (AUC - 0.5) / (oracle AUC - 0.5), as in `bench/quality.py`.

    .venv/bin/python bench/auc_ceiling.py --root /tmp/q     # a root `bench/quality.py` built

Writes `bench/results/auc_ceiling.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.config import config_from_dict
from mtlrec.generate import realistic as R
from mtlrec.generate.draws import dot
from mtlrec.metrics import auc
from mtlrec.run import paths
from mtlrec.run.summary import RunSummary
from mtlrec.spark_session import get_spark

TASKS = (S.CLICK, S.PURCHASE)
MIN_ESS = 10.0


def logit(p: Any) -> Any:
    return F.log(p / (F.lit(1.0) - p))


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -z)


def exposures(root: str) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """Every real exposure of the samples (joined with the truth), with what is known of it
    besides the user: `r_click` and `r_buy` are the true logits less the user's terms."""
    summary = RunSummary.load(root)
    cfg = config_from_dict(summary.config, source=f"{root}/runs/latest.json")
    gc = cfg.generate
    if gc.profile != "realistic":
        raise SystemExit(f"{root} was generated with generate.profile {gc.profile!r}, not the realistic one")
    spark = get_spark(cfg.spark)
    version = summary.table_version(S.SAMPLES_TABLE)
    samples = tables.read(spark, paths.table(root, S.SAMPLES_TABLE), version)
    truth = tables.read(spark, paths.table(root, S.TRUTH_TABLE))
    users = R.users(spark, gc).withColumn(S.USER_ID, F.format_string("u%d", F.col("u")))
    items = R.items(spark, gc).withColumn(S.ITEM_ID, F.format_string("i%d", F.col("i")))
    rows = (
        samples.select(S.EVENT_ID, S.USER_ID, S.ITEM_ID, S.SPLIT, S.CLICK, S.PURCHASE)
        .join(truth.select(S.EVENT_ID, S.P_CLICK, S.P_PURCHASE_GIVEN_CLICK), on=S.EVENT_ID)
        .join(users.select(S.USER_ID, "u", "u_vec", "u_bias", "u_buy"), on=S.USER_ID)
        .join(F.broadcast(items.select(S.ITEM_ID, "i", "i_vec")), on=S.ITEM_ID)
        .withColumn("affinity", dot("u_vec", "i_vec"))
        .select(
            "u",
            "i",
            F.when(F.col(S.SPLIT) == F.lit(S.TEST), 1).otherwise(0).cast("byte").alias("test"),
            F.col(S.CLICK).cast("float").alias(S.CLICK),
            F.col(S.PURCHASE).cast("float").alias(S.PURCHASE),
            F.col(S.P_CLICK).alias("p_click"),
            (F.col(S.P_CLICK) * F.col(S.P_PURCHASE_GIVEN_CLICK)).alias("p_purchase"),
            (logit(F.col(S.P_CLICK)) - F.lit(R.CLICK_AFFINITY) * F.col("affinity") - F.col("u_bias")).alias("r_click"),
            (logit(F.col(S.P_PURCHASE_GIVEN_CLICK)) - F.lit(R.BUY_AFFINITY) * F.col("affinity") - F.col("u_buy")).alias(
                "r_buy"
            ),
        )
    )
    arrow = rows.toArrow()
    columns = {name: arrow.column(name).to_numpy() for name in arrow.column_names}
    order = np.argsort(columns["u"], kind="stable")
    columns = {name: values[order] for name, values in columns.items()}
    item_vecs = np.zeros((gc.items, gc.latent_dim), dtype=np.float32)
    frame = items.select("i", "i_vec").toArrow()
    item_vecs[frame.column("i").to_numpy()] = np.stack(frame.column("i_vec").to_numpy(zero_copy_only=False))
    context = {
        "samples_version": version,
        "users": gc.users,
        "items": gc.items,
        "latent_dim": gc.latent_dim,
        "seed": gc.seed,
    }
    spark.stop()
    return columns, item_vecs, context


def user_chunks(starts: np.ndarray, ends: np.ndarray, users: np.ndarray, budget: int) -> list[np.ndarray]:
    """`users` in order, grouped so that a group's rows stay under `budget` (a heavier user alone)."""
    sizes = ends[users] - starts[users]
    groups, current, rows = [], [], 0
    for user, size in zip(users, sizes, strict=True):
        if current and rows + size > budget:
            groups.append(np.array(current))
            current, rows = [], 0
        current.append(user)
        rows += size
    if current:
        groups.append(np.array(current))
    return groups


def posterior_scores(
    columns: dict[str, np.ndarray], item_vecs: np.ndarray, *, draws: int, seed: int, rows_per_block: int = 8192
) -> dict[str, Any]:
    """Posterior-expected p_click and p_purchase of every test row, given the user's earlier rows."""
    dim = item_vecs.shape[1]
    rng = np.random.default_rng(seed)
    vecs = (rng.standard_normal((draws, dim)) * dim**-0.25).astype(np.float32)  # as `realistic.users` draws them
    click_bias = (rng.standard_normal(draws) * R.USER_CLICK_SD).astype(np.float32)
    buy_bias = (rng.standard_normal(draws) * R.USER_BUY_SD).astype(np.float32)

    u, test = columns["u"], columns["test"].astype(bool)
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    ends = np.r_[starts[1:], len(u)]
    test_users = np.flatnonzero(np.add.reduceat(test.astype(np.int64), starts) > 0)
    n_test = int(test.sum())
    out: dict[str, Any] = {
        name: np.empty(n_test) for name in ("posterior_click", "posterior_purchase", "prior_click", "prior_purchase")
    }
    ess_of_row = np.empty(n_test)
    evidence_of_row = np.zeros(n_test, dtype=np.int64)
    test_position = np.cumsum(test) - 1  # a test row's index among the test rows
    evidence_rows = 0

    def per_draw(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Click and purchase-given-click logits of `rows` under every draw (rows x draws)."""
        affinity = item_vecs[columns["i"][rows]] @ vecs.T
        z_click = columns["r_click"][rows, None].astype(np.float32) + R.CLICK_AFFINITY * affinity + click_bias
        z_buy = columns["r_buy"][rows, None].astype(np.float32) + R.BUY_AFFINITY * affinity + buy_bias
        return z_click, z_buy

    def blocks(rows: np.ndarray) -> list[np.ndarray]:
        return np.array_split(rows, max(1, -(-len(rows) // rows_per_block)))

    for chunk in user_chunks(starts, ends, test_users, rows_per_block):
        rows = np.concatenate([np.arange(starts[k], ends[k]) for k in chunk])
        owner = np.repeat(np.arange(len(chunk)), ends[chunk] - starts[chunk])
        seen = ~test[rows]
        evidence_rows += int(seen.sum())
        loglik = np.zeros((len(chunk), draws), dtype=np.float64)
        for block in blocks(np.flatnonzero(seen)):
            ev = rows[block]
            z_click, z_buy = per_draw(ev)
            clicked = columns[S.CLICK][ev, None]
            bought = columns[S.PURCHASE][ev, None]
            ll = clicked * log_sigmoid(z_click) + (1 - clicked) * log_sigmoid(-z_click)
            ll += clicked * (bought * log_sigmoid(z_buy) + (1 - bought) * log_sigmoid(-z_buy))
            np.add.at(loglik, owner[block], ll)
        weights = np.exp(loglik - loglik.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        ess = 1.0 / (weights**2).sum(axis=1)
        evidence = np.bincount(owner[seen], minlength=len(chunk))
        for block in blocks(np.flatnonzero(~seen)):
            scored = rows[block]
            z_click, z_buy = per_draw(scored)
            p_click = 1.0 / (1.0 + np.exp(-z_click))
            p_purchase = p_click / (1.0 + np.exp(-z_buy))
            w = weights[owner[block]]
            at = test_position[scored]
            out["posterior_click"][at] = (w * p_click).sum(axis=1)
            out["posterior_purchase"][at] = (w * p_purchase).sum(axis=1)
            out["prior_click"][at] = p_click.mean(axis=1)
            out["prior_purchase"][at] = p_purchase.mean(axis=1)
            ess_of_row[at] = ess[owner[block]]
            evidence_of_row[at] = evidence[owner[block]]
    out["ess"] = ess_of_row
    out["evidence_of_row"] = evidence_of_row
    out["evidence_rows"] = evidence_rows
    out["test_users"] = len(test_users)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="a data root of the realistic profile with its samples built")
    parser.add_argument("--draws", type=int, default=4000, help="prior draws of each user's factors and biases")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quality", default=str(Path(__file__).parent / "results" / "quality.json"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "auc_ceiling.json"))
    args = parser.parse_args()

    began = time.perf_counter()
    load_start = os.getloadavg()[0]
    columns, item_vecs, context = exposures(args.root)
    read_seconds = time.perf_counter() - began
    scores = posterior_scores(columns, item_vecs, draws=args.draws, seed=args.seed)
    test = columns["test"].astype(bool)
    labels = {task: columns[task][test] for task in TASKS}
    poor = scores["ess"] < MIN_ESS
    rankings = {
        "oracle": {task: columns[f"p_{task}"][test] for task in TASKS},
        "known_items_posterior_users": {task: scores[f"posterior_{task}"] for task in TASKS},
        "known_items_posterior_users_upper": {
            task: np.where(poor, columns[f"p_{task}"][test], scores[f"posterior_{task}"]) for task in TASKS
        },
        "known_items_no_users": {task: scores[f"prior_{task}"] for task in TASKS},
    }
    aucs = {name: {task: auc(labels[task], s[task]) for task in TASKS} for name, s in rankings.items()}
    oracle = aucs["oracle"]
    report: dict[str, Any] = {
        "root": args.root,
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        **context,
        "draws": args.draws,
        "test_rows": int(test.sum()),
        "test_clicks": int(labels[S.CLICK].sum()),
        "test_purchases": int(labels[S.PURCHASE].sum()),
        "test_users": scores["test_users"],
        "evidence_rows_of_test_users": scores["evidence_rows"],
        "test_rows_without_evidence": int((scores["evidence_of_row"] == 0).sum()),
        "median_evidence_rows_of_a_test_row": float(np.median(scores["evidence_of_row"])),
        "test_rows_with_ess_under_10": int(poor.sum()),
        "median_ess": float(np.median(scores["ess"])),
        "rankings": {
            name: {
                task: {"auc": values[task], "lift_share": (values[task] - 0.5) / (oracle[task] - 0.5)} for task in TASKS
            }
            for name, values in aucs.items()
        },
    }
    quality_path = Path(args.quality)
    if quality_path.exists():  # the models of the quality run on the same root, for the table
        quality = json.loads(quality_path.read_text())
        report["models"] = {
            f"{r['model']} {r['task']}": {"auc": r["auc"], "lift_share": r["lift_share"]} for r in quality["rows"]
        }
    report["read_seconds"] = round(read_seconds, 1)
    report["seconds"] = round(time.perf_counter() - began, 1)
    report["load"] = [round(load_start, 1), round(os.getloadavg()[0], 1)]
    for name, values in report["rankings"].items():
        line = "  ".join(f"{t} AUC {v['auc']:.4f} (lift share {v['lift_share']:.3f})" for t, v in values.items())
        print(f"{name:36s} {line}", flush=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
