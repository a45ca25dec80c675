from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mtlrec.config import ModelConfig
from mtlrec.layout import FeatureLayout, feature_layout
from mtlrec.models import MODELS, Batch, MultiTaskLoss, build_model, collate

TASKS = ("click", "purchase")
CFG = ModelConfig(
    embedding_dim=4,
    hidden_dims=(16,),
    num_experts=3,
    expert_dims=(16,),
    tower_dims=(8,),
    dropout=0.0,
    user_buckets=32,
    item_buckets=16,
    category_buckets=8,
)
LAYOUT = feature_layout(CFG, TASKS)


def random_columns(layout: FeatureLayout, rows: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    columns = {f.name: rng.integers(0, f.buckets, size=rows) for f in layout.sparse}
    columns |= {c: rng.normal(size=rows) for c in layout.dense}
    columns |= {t: rng.integers(0, 2, size=rows).astype(np.int32) for t in layout.tasks}
    return columns


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_returns_one_logit_per_row_for_each_task(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(CFG, name=name), LAYOUT)
    batch = collate(random_columns(LAYOUT, rows=5, seed=1), LAYOUT)

    logits = model(batch)

    assert set(logits) == set(TASKS)
    for task in TASKS:
        assert logits[task].shape == (5,)
        assert logits[task].dtype == torch.float32


def learnable_batch(rows: int = 512) -> Batch:
    """click depends only on the item id, purchase only on the first dense feature."""
    columns = random_columns(LAYOUT, rows=rows, seed=3)
    columns["click"] = (columns["item_idx"] < CFG.item_buckets // 2).astype(np.float32)
    columns["purchase"] = (columns[LAYOUT.dense[0]] > 0).astype(np.float32)
    return collate(columns, LAYOUT)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_steps_reduce_loss_on_learnable_problem(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(CFG, name=name), LAYOUT)
    loss_fn = MultiTaskLoss(TASKS, (1.0, 1.0))
    batch = learnable_batch()
    assert batch.labels is not None
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    with torch.no_grad():
        initial, _ = loss_fn(model(batch), batch.labels)
    for _ in range(150):
        optimizer.zero_grad()
        loss, _ = loss_fn(model(batch), batch.labels)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        final, per_task = loss_fn(model(batch), batch.labels)

    assert final.item() < 0.5 * initial.item()
    assert all(value.item() < 0.35 for value in per_task.values())


def test_collate_builds_typed_tensors_in_row_order_with_nan_dense_as_zero() -> None:
    columns = random_columns(LAYOUT, rows=4, seed=5)
    columns["user_idx"] = np.array([3, 0, 31, 7], dtype=np.int32)
    columns[LAYOUT.dense[1]] = np.array([0.5, np.nan, -2.0, np.nan])
    columns["click"] = np.array([1, 0, 0, 1])
    columns["unused"] = np.array(["a", "b", "c", "d"])

    batch = collate(columns, LAYOUT)

    assert len(batch) == 4
    assert batch.sparse.dtype == torch.int64
    assert batch.sparse.shape == (4, len(LAYOUT.sparse))
    assert batch.dense.dtype == torch.float32
    assert batch.dense.shape == (4, len(LAYOUT.dense))
    assert batch.sparse[:, 0].tolist() == [3, 0, 31, 7]
    for i, name in enumerate(LAYOUT.sparse_columns):
        assert batch.sparse[:, i].tolist() == columns[name].tolist()
    assert batch.dense[:, 1].tolist() == [0.5, 0.0, -2.0, 0.0]
    expected_dense = np.stack([columns[c] for c in LAYOUT.dense], axis=1).astype(np.float32)
    np.testing.assert_array_equal(batch.dense.numpy(), np.nan_to_num(expected_dense, nan=0.0))
    assert batch.labels is not None
    assert batch.labels.dtype == torch.float32
    assert batch.labels.tolist() == [
        [1.0, float(columns["purchase"][0])],
        [0.0, float(columns["purchase"][1])],
        [0.0, float(columns["purchase"][2])],
        [1.0, float(columns["purchase"][3])],
    ]


def test_collate_returns_no_labels_when_a_task_column_is_missing() -> None:
    columns = random_columns(LAYOUT, rows=3, seed=6)
    del columns["purchase"]

    batch = collate(columns, LAYOUT)

    assert batch.labels is None
    assert len(batch) == 3


def test_build_model_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="'esmm'.*mmoe.*shared_bottom"):
        build_model(dataclasses.replace(CFG, name="esmm"), LAYOUT)


def test_multitask_loss_is_weighted_sum_of_per_task_bce() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = {t: torch.randn(6, generator=generator) for t in TASKS}
    labels = torch.randint(0, 2, (6, 2), generator=generator).float()
    weights = (1.0, 0.25)

    total, per_task = MultiTaskLoss(TASKS, weights)(logits, labels)

    expected = {t: F.binary_cross_entropy_with_logits(logits[t], labels[:, i]) for i, t in enumerate(TASKS)}
    for t in TASKS:
        torch.testing.assert_close(per_task[t], expected[t])
    torch.testing.assert_close(total, weights[0] * expected["click"] + weights[1] * expected["purchase"])


def test_multitask_loss_rejects_weight_count_mismatch() -> None:
    with pytest.raises(ValueError, match="weights"):
        MultiTaskLoss(TASKS, (1.0,))
