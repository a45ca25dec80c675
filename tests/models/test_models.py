from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mtlrec.layout import FeatureLayout, feature_layout
from mtlrec.models import MODELS, Batch, build_model, collate
from mtlrec.models.config import ModelConfig
from mtlrec.models.embedding import FeatureEmbedding, HashedEmbedding
from mtlrec.models.esmm import logit_of_product
from mtlrec.train.config import TrainConfig
from mtlrec.train.loss import build_loss

TASKS = ("click", "purchase")
CFG = ModelConfig(
    embedding_dim=4,
    hidden_dims=(16,),
    num_experts=3,
    specific_experts=1,
    ple_levels=2,
    expert_dims=(16,),
    tower_dims=(8,),
    dropout=0.0,
    user_buckets=32,
    item_buckets=16,
    category_buckets=8,
)
LAYOUT = feature_layout(TASKS)


def random_columns(layout: FeatureLayout, rows: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    columns = {f.name: rng.integers(0, CFG.buckets(f.source), size=rows) for f in layout.sparse}
    columns |= {c: rng.normal(size=rows) for c in layout.dense}
    columns |= {t: rng.integers(0, 2, size=rows).astype(np.int32) for t in layout.tasks}
    return columns


def learnable_batch(rows: int = 512) -> Batch:
    """click depends only on the item id; purchase (a subset of clicks) also on a dense feature."""
    columns = random_columns(LAYOUT, rows=rows, seed=3)
    click = columns["item_idx"] < CFG.item_buckets // 2
    columns["click"] = click.astype(np.float32)
    columns["purchase"] = (click & (columns[LAYOUT.dense[0]] > 0)).astype(np.float32)
    return collate(columns, LAYOUT)


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
        assert torch.isfinite(logits[task]).all()


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_learns_a_small_learnable_problem(name: str, batch_norm: bool) -> None:
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(CFG, name=name, batch_norm=batch_norm), LAYOUT)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert bool(norms) == batch_norm
    loss_fn = build_loss(TrainConfig(tasks=TASKS, task_weights=(1.0, 1.0)))
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


def test_build_model_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="'dcn'.*aitm.*esmm.*mmoe.*ple.*shared_bottom.*single_task"):
        build_model(dataclasses.replace(CFG, name="dcn"), LAYOUT)


def test_esmm_purchase_probability_is_click_times_purchase_given_click() -> None:
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(CFG, name="esmm"), LAYOUT)
    batch = collate(random_columns(LAYOUT, rows=64, seed=2), LAYOUT)

    logits = model(batch)
    inputs = model.embedding(batch)  # type: ignore[operator]
    conditional = model.conditional(dict.fromkeys(TASKS, inputs.x), dict.fromkeys(TASKS, inputs.dots))  # type: ignore[operator]

    p_click, p_buy = torch.sigmoid(logits["click"]), torch.sigmoid(logits["purchase"])
    expected = torch.sigmoid(conditional["click"]) * torch.sigmoid(conditional["purchase"])
    torch.testing.assert_close(p_buy, expected, rtol=1e-5, atol=1e-7)
    assert (p_buy <= p_click).all()


def test_logit_of_product_is_exact_in_the_middle_and_finite_at_the_extremes() -> None:
    p = torch.tensor([1e-30, 1e-6, 0.3, 0.9, 1 - 1e-7, 1.0], dtype=torch.float64)

    logits = logit_of_product(torch.log(p))

    torch.testing.assert_close(logits[1:5], torch.logit(p[1:5]))
    assert torch.isfinite(logits).all()
    assert logits[0] < -60 and logits[-1] > 20


def test_ple_stacks_the_configured_levels_and_only_the_last_has_no_shared_gate() -> None:
    model = build_model(dataclasses.replace(CFG, name="ple", ple_levels=3), LAYOUT)

    levels = model.levels  # type: ignore[attr-defined]

    assert len(levels) == 3
    assert [level.shared_gate is None for level in levels] == [False, False, True]
    assert all(len(level.specific[task].experts) == CFG.specific_experts for level in levels for task in TASKS)


def touched_by_task(name: str) -> dict[str, set[str]]:
    """For each task, the parameters its logits' gradient reaches."""
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(CFG, name=name), LAYOUT)
    batch = collate(random_columns(LAYOUT, rows=32, seed=4), LAYOUT)
    touched = {}
    for task in TASKS:
        model.zero_grad()
        model(batch)[task].sum().backward()
        touched[task] = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    return touched


def test_single_task_shares_nothing_between_tasks() -> None:
    touched = touched_by_task("single_task")

    assert touched["click"] and touched["purchase"] and not touched["click"] & touched["purchase"]


def test_aitm_passes_information_from_click_to_purchase_but_not_back() -> None:
    touched = touched_by_task("aitm")
    click, purchase = touched["click"], touched["purchase"]

    assert any(n.startswith("encoders.click.") for n in purchase)  # the transfer reaches purchase
    assert not any(n.startswith(("encoders.purchase.", "attention.", "transfer.")) for n in click)


def test_hashed_embedding_keeps_table_indexes_and_hashes_the_rest_into_overflow_rows() -> None:
    table = HashedEmbedding(buckets=1000, dim=2, max_rows=100, overflow_rows=10, init_std=0.05)
    index = torch.tensor([0, 5, 89, 90, 1000, 10**12, -3])

    rows = table.rows(index)

    assert table.table.num_embeddings == 100
    assert rows[:3].tolist() == [0, 5, 89]
    assert ((rows[3:] >= 90) & (rows[3:] < 100)).all()
    assert table(index).shape == (7, 2)


def test_feature_embedding_appends_the_dot_product_of_every_pair_of_ids() -> None:
    torch.manual_seed(0)
    embedding = FeatureEmbedding(LAYOUT, CFG)
    batch = collate(random_columns(LAYOUT, rows=3, seed=6), LAYOUT)
    s, d = len(LAYOUT.sparse), CFG.embedding_dim

    out = embedding(batch)

    assert out.x.shape == (3, embedding.out_dim) == (3, s * d + len(LAYOUT.dense) + s * (s - 1) // 2)
    ids = [out.x[:, i * d : (i + 1) * d] for i in range(s)]
    torch.testing.assert_close(out.x[:, s * d : s * d + len(LAYOUT.dense)], batch.dense)
    torch.testing.assert_close(out.x[:, s * d + len(LAYOUT.dense) :], out.dots)
    torch.testing.assert_close(out.dots[:, 0], (ids[0] * ids[1]).sum(dim=1))  # user . item
    torch.testing.assert_close(out.dots[:, 2], (ids[1] * ids[2]).sum(dim=1))  # item . category


def test_the_dot_products_reach_each_logit_through_a_linear_term_of_its_own() -> None:
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(CFG, name="shared_bottom"), LAYOUT)
    batch = collate(random_columns(LAYOUT, rows=8, seed=8), LAYOUT)
    before = model(batch)

    with torch.no_grad():
        model.towers.wide["purchase"].weight.add_(1.0)  # type: ignore[union-attr, index]

    after = model(batch)
    dots = model.embedding(batch).dots  # type: ignore[operator]
    torch.testing.assert_close(after["click"], before["click"])
    torch.testing.assert_close(after["purchase"] - before["purchase"], dots.sum(dim=1))


def test_without_dot_interaction_there_are_no_dot_products_and_no_wide_terms() -> None:
    model = build_model(dataclasses.replace(CFG, name="mmoe", dot_interaction=False), LAYOUT)

    assert model.embedding.dots_dim == 0 and model.towers.wide is None  # type: ignore[union-attr]
    assert model.embedding.out_dim == len(LAYOUT.sparse) * CFG.embedding_dim + len(LAYOUT.dense)  # type: ignore[union-attr]


def test_collate_builds_typed_tensors_in_row_order_with_nan_dense_as_zero() -> None:
    columns = random_columns(LAYOUT, rows=4, seed=5)
    columns["user_idx"] = np.array([3, 0, 31, 7], dtype=np.int32)
    columns[LAYOUT.dense[1]] = np.array([0.5, np.nan, -2.0, np.nan])
    columns["click"] = np.array([1, 0, 0, 1])
    columns["unused"] = np.array(["a", "b", "c", "d"])

    batch = collate(columns, LAYOUT)

    assert len(batch) == 4
    assert batch.sparse.dtype == torch.int64 and batch.sparse.shape == (4, len(LAYOUT.sparse))
    assert batch.dense.dtype == torch.float32 and batch.dense.shape == (4, len(LAYOUT.dense))
    for i, name in enumerate(LAYOUT.sparse_columns):
        assert batch.sparse[:, i].tolist() == columns[name].tolist()
    expected_dense = np.stack([columns[c] for c in LAYOUT.dense], axis=1).astype(np.float32)
    np.testing.assert_array_equal(batch.dense.numpy(), np.nan_to_num(expected_dense, nan=0.0))
    assert batch.labels is not None and batch.labels.dtype == torch.float32
    assert batch.labels[:, 0].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert batch.labels[:, 1].tolist() == columns["purchase"].astype(float).tolist()
    assert batch.weights.tolist() == [1.0] * 4  # no weight column: every row counts once


def test_collate_reads_row_weights_when_the_column_is_there() -> None:
    columns = random_columns(LAYOUT, rows=3, seed=7)
    columns["weight"] = np.array([1.0, 4.0, np.nan])

    batch = collate(columns, LAYOUT)

    assert batch.weights.dtype == torch.float32
    assert batch.weights.tolist() == [1.0, 4.0, 1.0]


def test_collate_returns_no_labels_when_a_task_column_is_missing() -> None:
    columns = random_columns(LAYOUT, rows=3, seed=6)
    del columns["purchase"]

    batch = collate(columns, LAYOUT)

    assert batch.labels is None
    assert len(batch) == 3


def test_batch_take_selects_every_tensor_at_the_same_rows_in_the_given_order() -> None:
    columns = random_columns(LAYOUT, rows=5, seed=8)
    columns["weight"] = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    batch = collate(columns, LAYOUT)

    taken = batch.take(torch.tensor([4, 0, 2]))

    assert len(taken) == 3
    assert taken.weights.tolist() == [5.0, 1.0, 3.0]
    torch.testing.assert_close(taken.sparse, batch.sparse[[4, 0, 2]])
    torch.testing.assert_close(taken.dense, batch.dense[[4, 0, 2]])
    assert taken.labels is not None and batch.labels is not None
    torch.testing.assert_close(taken.labels, batch.labels[[4, 0, 2]])
