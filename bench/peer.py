"""The peer of the quality bench: torch-rechub's MMoE on mtlrec's own samples (issue 12).

`train_peer` reads the `samples` Delta table at the version the run recorded (the rows
and inputs every mtlrec model trained on: the three vocabulary index columns as
torch-rechub `SparseFeature`s, the standardised dense columns as `DenseFeature`s),
trains torch-rechub's `MMOE` with torch-rechub's own `MTLTrainer` on the train split,
early-stopped on valid as that trainer does, and scores the test split once.

As torch-rechub's own multi-task example runs it (examples/ranking/run_ali_ccp_multi_task.py):
`DataGenerator` data loaders, Adam with lr 1e-3 and weight decay 1e-4, batch 1024, the
trainer's BCE on the model's probabilities, early stopping on one task's valid AUC
(`earlystop_taskid`). The epoch budget and patience are mtlrec's (`train.epochs`,
`train.patience`): the example's 1 epoch and patience 30 are a smoke setting.

Test rows match `mtlrec evaluate`'s: every row of the test split, unweighted (negative
down-sampling touches train only, so test keeps every exposure), AUC of each task's
label against its probability. Evaluate bins the probabilities into
`evaluate.auc_bins` (100,000) levels; here scikit-learn's exact AUC, a difference
below 1e-4. torch-rechub's trainer has no sample weights: with
`features.negative_keep_rate` < 1 the peer trains on the down-sampled rows unweighted
(the result says whether every train weight was 1).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import deltalake
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import log_loss, roc_auc_score
from torch_rechub.basic.features import DenseFeature, SparseFeature
from torch_rechub.models.multi_task import MMOE
from torch_rechub.trainers import MTLTrainer
from torch_rechub.utils.data import DataGenerator

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.config import Config
from mtlrec.layout import ContextField, FeatureLayout, feature_layout
from mtlrec.models.batch import WEIGHT

NAME = "torch-rechub mmoe"
PACKAGE = "torch-rechub"
# torch-rechub's example trainer settings (run_ali_ccp_multi_task.py)
LR, WEIGHT_DECAY, BATCH_SIZE = 1e-3, 1e-4, 1024
# The example's early-stopping task is purchase (its first label, "main task"); mtlrec
# selects on the mean of both valid AUCs, which MTLTrainer cannot watch.
EARLYSTOP_TASK = S.PURCHASE


@dataclass(frozen=True)
class Split:
    x: dict[str, np.ndarray]  # column -> [N]: int64 indexes, float32 dense inputs
    y: np.ndarray  # [N, tasks] float32 labels, in the layout's task order


def run_layout(cfg: Config, root: str) -> FeatureLayout:
    """The inputs the run's samples hold: ids, dense features and the context fields
    (hour, day of week, the log's declared fields) its features recorded."""
    features = storage.read_json(f"{root}/runs/latest.json")["metrics"].get("features", {})
    return feature_layout(cfg.train.tasks, tuple(ContextField(**f) for f in features.get("context", [])))


def read_samples(root: str, layout: FeatureLayout) -> tuple[pd.DataFrame, int]:
    """The run's `samples` table at its recorded version, only the columns the peer reads."""
    ref = storage.read_json(f"{root}/runs/latest.json")["tables"][S.SAMPLES_TABLE]
    table = deltalake.DeltaTable(storage.arrow_uri(ref["path"]), version=int(ref["version"]))
    names = {f.name for f in table.schema().fields}
    columns = [S.SPLIT, *layout.columns, *layout.tasks, *([WEIGHT] if WEIGHT in names else [])]
    return table.to_pandas(columns=columns), int(ref["version"])


def split_arrays(frame: pd.DataFrame, layout: FeatureLayout, split: str) -> Split:
    rows = frame[frame[S.SPLIT] == split]
    x = {c: rows[c].to_numpy(dtype=np.int64) for c in layout.sparse_columns}
    x |= {c: rows[c].to_numpy(dtype=np.float32) for c in layout.dense}
    # a label is positive above 0.5, as mtlrec's metrics read it
    y = np.stack([rows[t].to_numpy(dtype=np.float32, na_value=0.0) > 0.5 for t in layout.tasks], axis=1)
    return Split(x=x, y=y.astype(np.float32))


def build_model(cfg: Config, layout: FeatureLayout, frame: pd.DataFrame) -> MMOE:
    """torch-rechub's MMoE with mtlrec's block sizes.

    mtlrec's sizes (`model.*`: embedding 16, 4 experts of [64, 32], towers [16],
    dropout 0.1) rather than the example's (embedding 4, 8 experts of [16], towers [8],
    no dropout): the example's sizes suit Ali-CCP's ~20 sparse fields; here 3 id fields
    carry most of the signal (the truth is a 16-dim user x item latent product), and
    4-dim ids would handicap the peer. Same capacity, so the table compares the rest.
    """
    mc = cfg.model
    # vocabulary indexes: 0 is OOV, so a table of max index + 1 rows over every split
    features: list[SparseFeature | DenseFeature] = [
        SparseFeature(c, int(frame[c].max()) + 1, embed_dim=mc.embedding_dim) for c in layout.sparse_columns
    ]
    features += [DenseFeature(c) for c in layout.dense]
    towers = [{"dims": list(mc.tower_dims), "dropout": mc.dropout} for _ in layout.tasks]
    expert = {"dims": list(mc.expert_dims), "dropout": mc.dropout}
    task_types = ["classification"] * len(layout.tasks)
    return MMOE(features, task_types, mc.num_experts, expert_params=expert, tower_params_list=towers)


def timed(seconds: list[float], fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`fn` that appends its wall seconds to `seconds`: the trainer's epochs, validation apart."""

    def wrapper(*args: Any) -> Any:
        began = time.perf_counter()
        out = fn(*args)
        seconds.append(time.perf_counter() - began)
        return out

    return wrapper


def predict(model: torch.nn.Module, loader: Any) -> np.ndarray:
    """[N, tasks] probabilities (torch-rechub models end in a sigmoid), in the loader's order."""
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(x).numpy() for x, _ in loader])


def fit(cfg: Config, model: MMOE, splits: dict[str, Split], tasks: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
    """Train on train, early-stopped on valid by MTLTrainer; leaves `model` at the best valid epoch.

    Returns the test loader and the epochs' timings and valid AUCs.
    """
    tc = cfg.train
    torch.manual_seed(tc.seed)  # the example seeds torch before building its loaders
    train, valid, test = splits[S.TRAIN], splits[S.VALID], splits[S.TEST]
    loaders = DataGenerator(train.x, train.y).generate_dataloader(
        x_val=valid.x, y_val=valid.y, x_test=test.x, y_test=test.y, batch_size=BATCH_SIZE
    )
    with tempfile.TemporaryDirectory() as saved:  # fit saves the final weights there
        trainer = MTLTrainer(
            model,
            task_types=["classification"] * len(tasks),
            optimizer_params={"lr": LR, "weight_decay": WEIGHT_DECAY},
            n_epoch=tc.epochs,
            earlystop_taskid=tasks.index(EARLYSTOP_TASK),
            # mtlrec's patience 0 never stops; the trainer's would stop at once
            earlystop_patience=tc.patience or tc.epochs,
            model_path=saved,
        )
        epoch_seconds: list[float] = []
        trainer.train_one_epoch = timed(epoch_seconds, trainer.train_one_epoch)
        with contextlib.redirect_stdout(sys.stderr):  # its per-epoch prints: stdout keeps the tables
            log = trainer.fit(loaders[0], loaders[1], mode="peer", seed=tc.seed)
    # the trainer restores the best weights only when it stops early; after its last
    # epoch it keeps that epoch's: restored here, so test sees the best valid epoch
    # either way, as with mtlrec's models
    model.load_state_dict(trainer.early_stopper.best_weights)
    valid_auc = [dict(zip(tasks, epoch[len(tasks) :], strict=True)) for epoch in log]
    best = max(range(len(valid_auc)), key=lambda e: (valid_auc[e][EARLYSTOP_TASK], -e))
    info = {"epoch_seconds": epoch_seconds, "valid_auc": valid_auc, "best_epoch": best}
    return loaders[2], info


def train_peer(cfg: Config, root: str) -> dict[str, Any]:
    """Train and test the peer on the run's samples: its per-task test metrics and timings."""
    began = time.perf_counter()
    layout = run_layout(cfg, root)
    frame, version = read_samples(root, layout)
    splits = {s: split_arrays(frame, layout, s) for s in (S.TRAIN, S.VALID, S.TEST)}
    train_weights_one = WEIGHT not in frame or bool((frame.loc[frame[S.SPLIT] == S.TRAIN, WEIGHT] == 1.0).all())
    model = build_model(cfg, layout, frame)
    del frame
    test_loader, info = fit(cfg, model, splits, layout.tasks)
    probs = predict(model, test_loader)  # [N, tasks]
    labels = splits[S.TEST].y
    test = {
        t: {
            "auc": float(roc_auc_score(labels[:, i], probs[:, i])),
            "logloss": float(log_loss(labels[:, i], probs[:, i], labels=[0.0, 1.0])),
        }
        for i, t in enumerate(layout.tasks)
    }
    train_rows = len(splits[S.TRAIN].y)
    epochs = len(info["epoch_seconds"])
    return {
        "package": f"{PACKAGE}=={importlib.metadata.version(PACKAGE)}",
        "samples_version": version,
        "inputs": {"sparse": list(layout.sparse_columns), "dense": list(layout.dense)},  # as mtlrec's models read
        "rows": {s: len(split.y) for s, split in splits.items()},
        "train_weights_all_one": train_weights_one,
        "model": {
            "embedding_dim": cfg.model.embedding_dim,
            "num_experts": cfg.model.num_experts,
            "expert_dims": list(cfg.model.expert_dims),
            "tower_dims": list(cfg.model.tower_dims),
            "dropout": cfg.model.dropout,
            "params": sum(p.numel() for p in model.parameters()),
        },
        "trainer": {
            "optimizer": "Adam",
            "lr": LR,
            "weight_decay": WEIGHT_DECAY,
            "batch_size": BATCH_SIZE,
            "max_epochs": cfg.train.epochs,
            "earlystop_task": EARLYSTOP_TASK,
            "earlystop_patience": cfg.train.patience or cfg.train.epochs,
        },
        "epochs_run": epochs,
        "best_epoch": info["best_epoch"],
        "valid_auc": info["valid_auc"],
        "test": test,
        # training epochs only (validation apart), as mtlrec's train/samples_per_s
        "samples_per_s": train_rows * epochs / sum(info["epoch_seconds"]),
        # the whole peer: Delta read, arrays, every epoch with its validation, test scoring
        "seconds": time.perf_counter() - began,
    }
