"""A tiny `samples` Delta table with known structure, written without Spark."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import deltalake
import numpy as np
import pandas as pd
import pytest

from mtlrec import schema as S
from mtlrec.config import Config
from mtlrec.layout import FeatureLayout, feature_layout
from mtlrec.models.config import ModelConfig
from mtlrec.train.config import TrainConfig

TASKS = ("click", "purchase")
MODEL = ModelConfig(
    embedding_dim=4,
    hidden_dims=(16,),
    num_experts=2,
    expert_dims=(16,),
    tower_dims=(8,),
    dropout=0.0,
    user_buckets=64,
    item_buckets=32,
    category_buckets=8,
    embedding_overflow_rows=0,
)
# odd sizes: the valid split does not divide evenly over two workers
ROWS = {S.TRAIN: 3001, S.VALID: 1001}


def tiny_config(**train: object) -> Config:
    """The tiny model, trained as `train` overrides say (two workers by default)."""
    tc = TrainConfig(
        workers=2,
        epochs=3,
        batch_size=256,
        lr=0.01,
        embedding_l2=0.0,
        weight_decay=0.0,
        embedding_decay=0.0,
        patience=0,
        shuffle_buffer=0,
    )
    return Config(model=MODEL, train=dataclasses.replace(tc, **train))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Tiny:
    """What the train tests share: the table's model, tasks, row counts and config."""

    model: ModelConfig = MODEL
    tasks: tuple[str, ...] = TASKS
    rows: Mapping[str, int] = field(default_factory=lambda: dict(ROWS))

    def config(self, **train: object) -> Config:
        return tiny_config(**train)


@pytest.fixture(scope="session")
def tiny() -> Tiny:
    return Tiny()


def sample_frame(layout: FeatureLayout, rows: int, split: str, seed: int) -> pd.DataFrame:
    """Rows whose click and purchase labels depend on user-item latent factors."""
    rng = np.random.default_rng(seed)
    users, items = 50, 30
    user_vec = np.random.default_rng(0).normal(size=(users, 4))
    item_vec = np.random.default_rng(1).normal(size=(items, 4))
    u, i = rng.integers(0, users, rows), rng.integers(0, items, rows)
    affinity = (user_vec[u] * item_vec[i]).sum(axis=1)
    click = rng.random(rows) < 1 / (1 + np.exp(-(affinity - 1.0)))
    purchase = click & (rng.random(rows) < 1 / (1 + np.exp(-(affinity - 0.5))))
    frame = pd.DataFrame(
        {
            S.USER_ID: [f"u{k}" for k in u],
            S.SPLIT: split,
            "user_idx": u + 1,
            "item_idx": i + 1,
            "cat_idx": i % 7 + 1,
            "click": click.astype(np.float32),
            "purchase": purchase.astype(np.float32),
            "weight": np.where(click, 1.0, 2.0).astype(np.float32),
        }
    )
    for name in layout.dense:
        frame[name] = rng.normal(size=rows).astype(np.float32)
    return frame


@pytest.fixture(scope="session")
def samples_table(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("samples") / "samples")
    layout = feature_layout(TASKS)
    frame = pd.concat([sample_frame(layout, n, split, seed) for seed, (split, n) in enumerate(ROWS.items())])
    deltalake.write_deltalake(path, frame.reset_index(drop=True))
    return path
