"""Scoring throughput: the Spark job against in-process batched inference (issue 5).

On the candidate pairs of a finished run (`mtlrec run`, e.g. `make demo`), side by side:

- `ceiling`: the pairs' model inputs in memory as numpy, the model in this process on
  one thread, batches of `score.batch_size`: pairs/s on one core;
- `spark_inference`: the same pairs (materialised once as Parquet) read by Spark, the
  model applied by `with_predictions` (mapInArrow, the model loaded once per Python
  worker), written to the `noop` sink; run twice, the second with warm Python workers;
- `spark_transfer_only`: the same Spark job with a pass-through instead of the model:
  what moving the rows to Python and back costs on its own;
- `score_stage`: the whole `mtlrec score` stage (candidates, features, model, strategies,
  top-K and leaderboards written to Delta), its seconds from the run summary.

Per core = pairs/s over the Spark cores (local[N]). Goal: Spark >= 0.6 of the ceiling
per core. Results: bench/results/score.json.

    .venv/bin/python bench/score.py --root data          # after `make demo`
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.cli import main as mtlrec
from mtlrec.config import load_config
from mtlrec.layout import standardisation
from mtlrec.models.artifact import load_model
from mtlrec.models.batch import collate
from mtlrec.run import paths
from mtlrec.run.summary import RunSummary
from mtlrec.serving.candidates import candidate_pairs
from mtlrec.serving.inference import ServedModel, with_predictions
from mtlrec.serving.pairs import feature_pairs
from mtlrec.serving.scored import last_feature_day, users_as_of
from mtlrec.spark_session import get_spark

RESULTS = Path(__file__).resolve().parent / "results"


def materialise_inputs(args: argparse.Namespace, out: Path) -> tuple[int, int]:
    """Write the run's scoring-day candidate pairs with their model inputs to `out` (Parquet)."""
    cfg = load_config(args.conf, [f"paths.root={args.root}", *args.overrides])
    spark = get_spark(cfg.spark)
    summary = RunSummary.load(cfg.paths.root)
    model = ServedModel.load(summary.model_path())
    day = last_feature_day(spark, root=cfg.paths.root, version=summary.table_version(S.USER_FEATURES_TABLE))

    def table(name: str, version: int) -> Any:
        return tables.read(spark, paths.table(cfg.paths.root, name), version)

    on_day = f"{S.DT} = DATE'{day.isoformat()}'"
    events = table(S.EVENTS_TABLE, summary.table_version(S.EVENTS_TABLE))
    # every user the stage scores: lapsed ones too, from their last known feature row
    users = users_as_of(table(S.USER_FEATURES_TABLE, summary.table_version(S.USER_FEATURES_TABLE)), events, day)
    items = table(S.ITEM_FEATURES_TABLE, summary.table_version(S.ITEM_FEATURES_TABLE)).where(on_day)
    cross = table(S.USER_CATEGORY_FEATURES_TABLE, summary.table_version(S.USER_CATEGORY_FEATURES_TABLE)).where(on_day)
    pairs = candidate_pairs(users, items, events, day=day, sc=cfg.score, catalogue_size=items.count())
    inputs = feature_pairs(
        pairs,
        users=users,
        items=items,
        cross=cross,
        vocabulary=table(S.VOCABULARY_TABLE, model.tables[S.VOCABULARY_TABLE].version),
        stats=standardisation(table(S.FEATURE_STATS_TABLE, model.tables[S.FEATURE_STATS_TABLE].version)),
        layout=model.layout,
    )
    inputs.write.mode("overwrite").parquet(str(out))
    return spark.read.parquet(str(out)).count(), spark.sparkContext.defaultParallelism


def spark_inference(args: argparse.Namespace, inputs: Path) -> float:
    cfg = load_config(args.conf, [f"paths.root={args.root}", *args.overrides])
    spark = get_spark(cfg.spark)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(cfg.score.batch_size))
    model = ServedModel.load(RunSummary.load(cfg.paths.root).model_path())
    df = spark.read.parquet(str(inputs))
    began = time.perf_counter()
    scored = with_predictions(df, model=model, keep=[S.USER_ID, S.ITEM_ID])
    scored.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - began


def passthrough(rows: Any) -> Any:
    """mapInArrow without a model: the kept columns back out (what moving rows costs)."""
    import pyarrow as pa

    for rb in rows:
        yield pa.RecordBatch.from_arrays([rb.column(0), rb.column(1)], names=[S.USER_ID, S.ITEM_ID])


def spark_transfer(args: argparse.Namespace, inputs: Path) -> float:
    """The same job with the model replaced by a pass-through: Spark -> Python -> Spark alone."""
    cfg = load_config(args.conf, [f"paths.root={args.root}", *args.overrides])
    spark = get_spark(cfg.spark)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(cfg.score.batch_size))
    df = spark.read.parquet(str(inputs))
    schema = df.select(S.USER_ID, S.ITEM_ID).schema
    began = time.perf_counter()
    df.mapInArrow(passthrough, schema=schema).write.format("noop").mode("overwrite").save()
    return time.perf_counter() - began


def ceiling(args: argparse.Namespace, inputs: Path) -> tuple[float, int]:
    """Seconds for every pair through the model on one thread, batches of score.batch_size."""
    cfg = load_config(args.conf, [f"paths.root={args.root}", *args.overrides])
    loaded = load_model(RunSummary.load(cfg.paths.root).artifact("model"))
    table = pq.read_table(str(inputs), columns=list(loaded.layout.columns))
    columns = {c: table.column(c).to_numpy() for c in loaded.layout.columns}
    rows = table.num_rows
    torch.set_num_threads(1)
    size = cfg.score.batch_size
    began = time.perf_counter()
    with torch.no_grad():
        for start in range(0, rows, size):
            batch = collate({c: v[start : start + size] for c, v in columns.items()}, loaded.layout)
            logits = loaded.model(batch)
            for task in loaded.layout.tasks:
                torch.sigmoid(logits[task]).numpy()
    return time.perf_counter() - began, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conf", default="conf/local.yaml")
    parser.add_argument("--root", default="data", help="paths.root of a finished run")
    parser.add_argument("--out", default=str(RESULTS / "score.json"))
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config overrides")
    parser.add_argument(
        "--stage-from-summary",
        action="store_true",
        help="take the score stage's figures from the run summary (a run that just scored) instead of running it",
    )
    args = parser.parse_args()
    scratch = Path(args.root).resolve() / "bench-score-inputs"

    pairs, cores = materialise_inputs(args, scratch)
    print(f"{pairs:,} candidate pairs, Spark on {cores} cores", flush=True)
    cold = spark_inference(args, scratch)
    warm = spark_inference(args, scratch)
    transfer = spark_transfer(args, scratch)
    one_core_s, rows = ceiling(args, scratch)
    assert rows == pairs
    if not args.stage_from_summary:
        sets = [a for o in [f"paths.root={args.root}", *args.overrides] for a in ("--set", o)]
        if mtlrec(["score", "--conf", args.conf, *sets]) != 0:
            raise SystemExit("mtlrec score failed")
    stage = RunSummary.load(str(Path(args.root).resolve())).stages["score"].to_dict()
    shutil.rmtree(scratch, ignore_errors=True)

    ceiling_pps = pairs / one_core_s
    result: dict[str, Any] = {
        "machine": {"cpus": cores, "python": platform.python_version(), "torch": torch.__version__},
        "pairs": pairs,
        "batch_size": load_config(args.conf, [f"paths.root={args.root}", *args.overrides]).score.batch_size,
        "ceiling": {"seconds": one_core_s, "pairs_per_s_per_core": ceiling_pps},
        "spark_inference": {
            "cold_seconds": cold,
            "warm_seconds": warm,
            "cold_pairs_per_s_per_core": pairs / cold / cores,
            "warm_pairs_per_s_per_core": pairs / warm / cores,
            "cold_ratio": pairs / cold / cores / ceiling_pps,
            "warm_ratio": pairs / warm / cores / ceiling_pps,
        },
        # every input column through mapInArrow and back, no model: the Spark path's own floor
        "spark_transfer_only": {"seconds": transfer, "pairs_per_s_per_core": pairs / transfer / cores},
        "score_stage": {
            "seconds": stage["seconds"],
            "pairs": stage["rows_in"],
            "pairs_per_s_per_core": stage["rows_in"] / stage["seconds"] / cores,
            "ratio": stage["rows_in"] / stage["seconds"] / cores / ceiling_pps,
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
