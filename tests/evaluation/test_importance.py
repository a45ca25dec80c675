from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mtlrec.evaluation.importance import (
    ImportanceResult,
    describe,
    feature_groups,
    is_negligible,
    permutation_importance,
    plot_importance,
)
from mtlrec.layout import FeatureLayout, SparseFeature, feature_layout
from mtlrec.models import build_model, collate
from mtlrec.models.config import ModelConfig
from mtlrec.train.config import TrainConfig
from mtlrec.train.loss import build_loss

TASKS = ("click", "purchase")
CFG = ModelConfig(
    name="shared_bottom",
    embedding_dim=4,
    hidden_dims=(16,),
    tower_dims=(8,),
    dropout=0.0,
    dot_interaction=False,
    item_buckets=64,
)
# item_price decides click alone; purchase is a click on an item of the lower half;
# user_spend_30d is noise
LAYOUT = FeatureLayout(
    sparse=(SparseFeature("item_idx", "item_id"),), dense=("item_price", "user_spend_30d"), tasks=TASKS
)


def planted(rows: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    columns = {
        "item_idx": rng.integers(0, 8, size=rows),
        "item_price": rng.normal(size=rows),
        "user_spend_30d": rng.normal(size=rows),
    }
    click = columns["item_price"] > 0
    labels = {"click": click.astype(np.float32), "purchase": (click & (columns["item_idx"] < 4)).astype(np.float32)}
    return columns, labels


def trained(steps: int = 80) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(CFG, LAYOUT)
    loss_fn = build_loss(TrainConfig(tasks=TASKS, task_weights=(1.0, 1.0)))
    columns, labels = planted(rows=600, seed=1)
    batch = collate(columns | labels, LAYOUT)
    assert batch.labels is not None
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        optimizer.zero_grad()
        loss, _ = loss_fn(model(batch), batch.labels)
        loss.backward()
        optimizer.step()
    return model


@pytest.fixture(scope="module")
def result() -> ImportanceResult:
    columns, labels = planted(rows=3000, seed=2)
    return permutation_importance(trained(), LAYOUT, columns, labels, tasks=TASKS, repeats=5, seed=3)


def test_the_planted_feature_ranks_first_and_the_noise_last_and_negligible(result: ImportanceResult) -> None:
    by_name = {g.group: g for g in result.groups}
    assert result.base_auc["click"] > 0.95 and result.base_auc["purchase"] > 0.9
    # click: item_price alone decides it, so shuffling it leaves a coin toss
    assert result.ranked("click")[0].group == "item price"
    assert by_name["item price"].drop["click"] > 0.4 and not by_name["item price"].negligible["click"]
    # purchase needs both the price (the click) and the item; the noise comes last
    assert [g.group for g in result.ranked("purchase")][-1] == "user spend"
    assert not by_name["item ids"].negligible["purchase"] and not by_name["item price"].negligible["purchase"]
    assert all(by_name["user spend"].negligible[t] for t in TASKS)
    assert result.drop_candidates() == ["user spend"]


def test_describe_names_what_the_model_relies_on_and_what_to_drop(result: ImportanceResult) -> None:
    text = describe(result)

    assert text.index("for click") < text.index("item price") < text.index("for purchase")
    assert "user spend" in text.split("candidates to drop")[0].split("without")[-1]


def test_plot_writes_one_png_per_task(result: ImportanceResult, tmp_path: Path) -> None:
    paths = plot_importance(result, str(tmp_path / "plots"))

    assert [Path(p).name for p in paths] == ["importance_click.png", "importance_purchase.png"]
    assert all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_the_same_seed_shuffles_the_same_way() -> None:
    model = trained(steps=5)
    columns, labels = planted(rows=400, seed=4)

    first = permutation_importance(model, LAYOUT, columns, labels, repeats=2, seed=9)
    again = permutation_importance(model, LAYOUT, columns, labels, repeats=2, seed=9)

    assert first == again


def test_groups_come_from_the_layout_and_new_fields_get_their_own() -> None:
    base = feature_layout(TASKS)
    extended = FeatureLayout(
        sparse=(*base.sparse, SparseFeature("device_idx", "device")), dense=(*base.dense, "hour"), tasks=TASKS
    )

    groups = feature_groups(extended)

    assert list(groups)[:4] == ["user ids", "item ids", "category id", "device"]
    assert groups["hour"] == ("hour",)
    kinds = ("impressions", "clicks", "carts", "purchases")
    assert groups["user counts"] == tuple(c for c in base.dense if c.split("_")[:2] in [["user", k] for k in kinds])
    assert len(groups["user counts"]) == 12
    assert groups["item price"] == ("item_price",)
    assert groups["user x category"] == tuple(c for c in base.dense if c.startswith("uc_"))
    assert groups["user rates"] == ("user_ctr_30d", "user_cvr_30d", "user_days_since_last")
    every = [c for columns in groups.values() for c in columns]
    assert sorted(every) == sorted(extended.columns)  # each column in exactly one group


@pytest.mark.parametrize(
    ("mean", "std", "repeats", "negligible"),
    [
        (0.01, 0.002, 4, False),
        (0.001, 0.002, 4, True),
        (-0.0015, 0.002, 4, True),
        (-0.003, 0.002, 4, False),
        (5e-5, 0.0, 3, True),
        (0.02, 0.0, 1, False),
    ],
)
def test_a_drop_within_two_standard_errors_or_epsilon_is_negligible(
    mean: float, std: float, repeats: int, negligible: bool
) -> None:
    assert is_negligible(mean, std, repeats) is negligible
