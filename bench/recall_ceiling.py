"""How far a strategy can beat most-popular on a generated log: recall@K with the truth (issue 12).

On the realistic profile an impression's item is drawn by Zipf's law over item
popularity, whoever the user is; only the click and the purchase depend on the user.
The purchases a user makes in the test days are therefore the items shown to them
(popularity) times their true chance of buying once shown. This script ranks the same
candidates `evaluate` ranks (the serving path as of the first test day, the test days'
buyers, the same exclusions and category cap) by

- `popular`: most-popular, 30-day clicks (what `evaluate` compares with);
- `model_purchases`: the default strategy, the model's p_ctcvr x the item's 30-day impressions;
- `truth_ctcvr_x_exposure`: the same strategy with the true p_ctcvr (a perfect model);
- `truth_ctcvr_x_true_share`: the true p_ctcvr x the item's true share of impressions:
  the expected purchases of each candidate, the best ranking any strategy can reach.

The true p_ctcvr of a (user, item) is the generator's p_click x p_purchase_given_click,
averaged over the devices the user shows up on (their main one most) and the slots as
the log filled them; the hour-of-day terms are left out (they do not depend on the item).

    .venv/bin/python bench/recall_ceiling.py --root /tmp/q     # a root `bench/quality.py` built

Writes recall@K, NDCG@K and each one's ratio to most-popular to
`bench/results/recall_ceiling.json`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from strategies import period  # a module of this script's folder (bench/ is not a package)

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.config import config_from_dict
from mtlrec.evaluation.ranking import purchases, ranking_metrics
from mtlrec.generate import realistic as R
from mtlrec.generate.config import GenerateConfig
from mtlrec.generate.draws import dot, sigmoid
from mtlrec.run import paths
from mtlrec.run.summary import RunSummary
from mtlrec.serving.inference import ServedModel, prob_column
from mtlrec.serving.scored import DAY_TABLES, scored_candidates
from mtlrec.serving.strategy import ranked
from mtlrec.spark_session import get_spark

TRUE_CTCVR, TRUE_SHARE = "truth_ctcvr", "truth_share"  # p_<name> columns, so strategies can name them
STRATEGIES = {
    "popular": {"popularity": 1.0},
    "model_purchases": {"ctcvr": 1.0, "exposure": 1.0},
    "truth_ctcvr_x_exposure": {TRUE_CTCVR: 1.0, "exposure": 1.0},
    "truth_ctcvr_x_true_share": {TRUE_CTCVR: 1.0, TRUE_SHARE: 1.0},
}


def zipf_share(index: Column, *, size: int, exponent: float) -> Column:
    """The chance `draws.zipf_index` gives `index`: the power law's mass on [index + 1, index + 2)."""
    a = 1.0 - exponent
    cdf = lambda r: (F.pow(r, F.lit(a)) - F.lit(1.0)) / F.lit((size + 1.0) ** a - 1.0)  # noqa: E731
    return cdf(index + F.lit(2.0)) - cdf(index + F.lit(1.0))


def true_ctcvr(gc: GenerateConfig, slot_shares: dict[int, float]) -> Column:
    """E[p_click x p_purchase_given_click] over device and slot, as `realistic.impressions` draws them."""
    total = sum(slot_shares.values())
    expected: Column = F.lit(0.0)
    for device, (share, click_effect, buy_effect) in R.DEVICES.items():
        on_device = F.when(
            F.col("main_device") == F.lit(device), F.lit(R.MAIN_DEVICE + (1 - R.MAIN_DEVICE) * share)
        ).otherwise(F.lit((1 - R.MAIN_DEVICE) * share))
        buy = sigmoid(
            F.lit(math.log(gc.base_cvr / (1 - gc.base_cvr)) + buy_effect)
            + F.lit(R.BUY_AFFINITY) * F.col("affinity")
            + F.col("u_buy")
            + F.col("i_buy")
            - F.lit(R.PRICE_EFFECT) * (F.log(F.col("true_price")) - F.lit(3.0))
        )
        for slot, weight in slot_shares.items():
            click = sigmoid(
                F.lit(math.log(gc.base_ctr / (1 - gc.base_ctr)) + click_effect - R.POSITION_DECAY * math.log(slot))
                + F.lit(R.CLICK_AFFINITY) * F.col("affinity")
                + F.col("u_bias")
                + F.col("i_bias")
            )
            expected = expected + on_device * F.lit(weight) * click * buy
    return expected / F.lit(total)


def with_truth(scored: DataFrame, gc: GenerateConfig, slot_shares: dict[int, float]) -> DataFrame:
    """`scored` plus p_truth_ctcvr and p_truth_share from the generator's own users and items."""
    spark = scored.sparkSession
    users = R.users(spark, gc).withColumn(S.USER_ID, F.format_string("u%d", F.col("u")))
    items = R.items(spark, gc).withColumn(S.ITEM_ID, F.format_string("i%d", F.col("i")))
    truth = (
        scored.join(users.select(S.USER_ID, "u_vec", "u_bias", "u_buy", "main_device"), on=S.USER_ID)
        .join(
            F.broadcast(items.select(S.ITEM_ID, "i", F.col("price").alias("true_price"), "i_vec", "i_bias", "i_buy")),
            on=S.ITEM_ID,
        )
        .withColumn("affinity", dot("u_vec", "i_vec"))
    )
    return truth.select(
        *scored.columns,
        true_ctcvr(gc, slot_shares).alias(prob_column(TRUE_CTCVR)),
        zipf_share(F.col("i").cast("double"), size=gc.items, exponent=gc.item_zipf).alias(prob_column(TRUE_SHARE)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="a data root of the realistic profile, with a trained model")
    parser.add_argument("--model", help="the model artifact to rank with (default: the latest run's)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "recall_ceiling.json"))
    args = parser.parse_args()

    summary = RunSummary.load(args.root)
    cfg = config_from_dict(summary.config, source=f"{args.root}/runs/latest.json")
    gc = cfg.generate
    if gc.profile != "realistic":
        raise SystemExit(
            f"{args.root} was generated with generate.profile {gc.profile!r}: the truth here is the realistic profile's"
        )
    spark = get_spark(cfg.spark)
    model = ServedModel.load(args.model or summary.model_path())
    began = time.perf_counter()
    samples_ref = model.tables[S.SAMPLES_TABLE]
    first, last = period(tables.read(spark, samples_ref.path, samples_ref.version), S.TEST)
    events = tables.read(spark, paths.table(args.root, S.EVENTS_TABLE), summary.table_version(S.EVENTS_TABLE))
    shown = events.where((F.col(S.EVENT_TYPE) == F.lit(S.IMPRESSION)) & F.col("position").isNotNull())
    slot_shares = {int(r["position"]): float(r["count"]) for r in shown.groupBy("position").count().collect()}

    bought = purchases(events, first, last).persist(StorageLevel.MEMORY_AND_DISK)
    versions: dict[str, int | None] = {name: summary.table_version(name) for name in DAY_TABLES}
    scored = scored_candidates(
        spark, root=args.root, model=model, sc=cfg.score, day=first, versions=versions, only=bought
    )
    lists = ranked(
        with_truth(scored.pairs, gc, slot_shares), strategies=STRATEGIES, k=args.k, category_cap=cfg.score.category_cap
    ).persist(StorageLevel.MEMORY_AND_DISK)
    items = model.tables[S.ITEM_FEATURES_TABLE]
    catalogue = tables.read(spark, items.path, items.version).where(F.col(S.DT) == F.lit(first)).count()
    metrics = ranking_metrics(lists, bought, k=args.k, catalogue_size=catalogue)

    base = metrics["popular"]
    report: dict[str, Any] = {
        "root": args.root,
        "model": model.path,
        "k": args.k,
        "test_days": [first.isoformat(), last.isoformat()],
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "strategies": STRATEGIES,
        "slot_shares": slot_shares,
    }
    for name, values in metrics.items():
        values["recall_vs_most_popular"] = values["recall"] / base["recall"] if base["recall"] else float("nan")
        values["ndcg_vs_most_popular"] = values["ndcg"] / base["ndcg"] if base["ndcg"] else float("nan")
        report[name] = values
        print(
            f"{name:28s} recall@{args.k} {values['recall']:.4f} ({values['recall_vs_most_popular']:.2f}x) "
            f"ndcg {values['ndcg']:.4f} ({values['ndcg_vs_most_popular']:.2f}x) buyers {values['users']}",
            flush=True,
        )
    report["seconds"] = round(time.perf_counter() - began, 1)
    report["load"] = round(os.getloadavg()[0], 1)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
