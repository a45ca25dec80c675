"""Why the long-tail recipe (issue 12, item 6): the default model under several optimisers.

On the samples of an existing run (`--root`, e.g. the tables `bench/quality.py` built),
trains the default model in this one process with mtlrec's own objective and
`train_epoch`, the train split in memory and fully shuffled each epoch, once per recipe,
and writes each epoch's valid AUCs (test is not read: this chooses a recipe):

- `old_default`: the recipe before this one (lr 0.01, decoupled AdamW with no decay, an
  L2 term of 0.003 on the rows each batch reads);
- `decay_tables_only` / `decay_dense_only`: Adam lr 1e-3 with L2 added to the gradient
  (coupled) of the id tables alone, or of the dense layers alone;
- `default`: the config's recipe (Adam lr 1e-3, coupled L2 5e-4 on both);
- `peer_optimizer`: torch-rechub's example optimiser, one `torch.optim.Adam(lr=1e-3,
  weight_decay=1e-4)` over every parameter, on the same objective.

    .venv/bin/python bench/recipe.py --root /tmp/q   # a root bench/quality.py built

Results: bench/results/recipe.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from typing import Any

import numpy as np
import torch
from peer import read_samples, run_layout  # a module of this script's folder (bench/ is not a package)
from quality import CONF, RESULTS
from sklearn.metrics import roc_auc_score

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.config import Config, load_config
from mtlrec.models import Batch, collate
from mtlrec.run.summary import RunSummary
from mtlrec.train.config import TrainConfig
from mtlrec.train.loop import train_epoch
from mtlrec.train.objective import build_objective, build_optimizers
from mtlrec.train.publish import resolved

RECIPES: dict[str, dict[str, Any]] = {
    "old_default": {"lr": 0.01, "weight_decay": 0.0, "embedding_decay": 0.0, "embedding_l2": 0.003},
    "decay_tables_only": {"lr": 0.001, "weight_decay": 0.0, "embedding_decay": 0.0005, "embedding_l2": 0.0},
    "decay_dense_only": {"lr": 0.001, "weight_decay": 0.0005, "embedding_decay": 0.0, "embedding_l2": 0.0},
    "default": {},
    "peer_optimizer": {"lr": 0.001, "weight_decay": 0.0, "embedding_decay": 0.0, "embedding_l2": 0.0},
}
PEER_WEIGHT_DECAY = 1e-4  # torch-rechub's example (bench/peer.py)


def valid_aucs(objective: torch.nn.Module, valid: Batch, tasks: tuple[str, ...]) -> dict[str, float]:
    objective.eval()
    with torch.no_grad():
        logits = objective(valid).logits
    assert valid.labels is not None
    return {t: float(roc_auc_score(valid.labels[:, i].numpy() > 0.5, logits[t].numpy())) for i, t in enumerate(tasks)}


def run_recipe(cfg: Config, train: Batch, valid: Batch, name: str, epochs: int) -> dict[str, Any]:
    tc: TrainConfig = dataclasses.replace(cfg.train, **RECIPES[name])
    torch.manual_seed(tc.seed)
    objective = build_objective(dataclasses.replace(cfg, train=tc))
    if name == "peer_optimizer":
        optimizers: list[torch.optim.Optimizer] = [
            torch.optim.Adam(objective.parameters(), lr=tc.lr, weight_decay=PEER_WEIGHT_DECAY)
        ]
    else:
        optimizers = build_optimizers(objective, tc)
    order_seed = torch.Generator().manual_seed(tc.seed)
    history = []
    for epoch in range(epochs):
        began = time.perf_counter()
        order = torch.randperm(len(train), generator=order_seed)
        size = tc.batch_size
        loss = train_epoch(objective, (train.take(order[i : i + size]) for i in range(0, len(train), size)), optimizers)
        history.append(
            {"epoch": epoch, "loss": loss["loss"], "seconds": time.perf_counter() - began}
            | {f"valid/{t}_auc": v for t, v in valid_aucs(objective, valid, tc.tasks).items()}
        )
        print(name, history[-1], flush=True)
    return {"train": {k: getattr(tc, k) for k in ("lr", "weight_decay", "embedding_decay", "embedding_l2")}} | {
        "epochs": history
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", default=CONF)
    parser.add_argument("--root", required=True, help="paths.root of a run whose features are built")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--recipes", default=",".join(RECIPES))
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)  # as the Ray workers do (mtlrec/train/worker.py)
    before = os.getloadavg()
    root = storage.absolute(args.root)
    # sized and with the run's context fields exactly as `train` resolves them
    cfg, _ = resolved(load_config(args.conf, [f"paths.root={root}"]), RunSummary.load(root))
    layout = run_layout(cfg, root)
    frame, version = read_samples(root, layout)
    splits = {s: frame[frame[S.SPLIT] == s] for s in (S.TRAIN, S.VALID)}
    train, valid = (collate({c: np.asarray(f[c]) for c in f.columns}, layout) for f in splits.values())
    del frame, splits
    result = {
        "root": root,
        "samples_version": version,
        "rows": {"train": len(train), "valid": len(valid)},
        "recipes": {name: run_recipe(cfg, train, valid, name, args.epochs) for name in args.recipes.split(",")},
        "load": {"start": list(before), "end": list(os.getloadavg())},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recipe.json").write_text(json.dumps(result, indent=2))
    print(f"written {RESULTS / 'recipe.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
