"""The training pieces below Ray: objective, optimizers, loops, checkpoints, selection."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

from mtlrec.layout import feature_layout
from mtlrec.metrics import task_metrics
from mtlrec.models import Batch, collate
from mtlrec.train.checkpoint import load_state, model_state_dict, save_state
from mtlrec.train.driver import best_epoch
from mtlrec.train.loop import predict, train_epoch
from mtlrec.train.objective import build_objective, build_optimizers, embedding_tables, use_sparse_gradients
from mtlrec.train.progress import Progress, is_better
from mtlrec.train.validation import metric_names, predict_in_step, validation_metrics


def batches(tiny: Any, rows: int = 2048, size: int = 256, seed: int = 0) -> list[Batch]:
    """Batches where click and purchase depend on the item id (purchases are clicks)."""
    layout = feature_layout(tiny.tasks)
    rng = np.random.default_rng(seed)
    columns = {f.name: rng.integers(1, tiny.model.buckets(f.source), rows) for f in layout.sparse}
    columns |= {c: rng.normal(size=rows) for c in layout.dense}
    columns["click"] = (columns["item_idx"] % 2 == 0).astype(np.float32)
    columns["purchase"] = columns["click"] * (columns["item_idx"] % 4 == 0)
    return [collate({k: v[i : i + size] for k, v in columns.items()}, layout) for i in range(0, rows, size)]


def test_train_epoch_lowers_the_loss_and_predict_returns_probabilities_per_task(tiny: Any) -> None:
    torch.manual_seed(0)
    cfg = tiny.config()
    objective = build_objective(cfg)
    optimizers = build_optimizers(objective, cfg.train)
    data = batches(tiny)

    first = train_epoch(objective, data, optimizers)
    for _ in range(4):
        last = train_epoch(objective, data, optimizers)
    out = predict(objective, data, tiny.tasks)

    assert first["rows"] == last["rows"] == 2048
    assert last["loss"] < 0.5 * first["loss"]
    assert out.probs.shape == out.labels.shape == (2048, 2) and out.weights.shape == (2048,)
    assert ((out.probs > 0) & (out.probs < 1)).all()
    assert task_metrics(out.labels, out.probs, tiny.tasks)["click"]["auc"] > 0.95


def test_a_one_row_tail_batch_is_passed_over_so_batch_norm_trains(tiny: Any) -> None:
    cfg = dataclasses.replace(tiny.config(), model=dataclasses.replace(tiny.model, batch_norm=True))
    objective = build_objective(cfg)
    optimizers = build_optimizers(objective, cfg.train)
    data = batches(tiny, rows=2 * 256 + 1)  # two whole batches and a tail of one row
    assert [len(b) for b in data] == [256, 256, 1]
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        objective(data[-1])  # what BatchNorm makes of the tail in training mode

    losses = train_epoch(objective, data, optimizers)

    assert losses["rows"] == 512 and math.isfinite(losses["loss"])


def test_embedding_l2_adds_the_squared_norm_of_every_looked_up_row(tiny: Any) -> None:
    torch.manual_seed(0)
    plain = build_objective(tiny.config())
    penalised = build_objective(tiny.config(embedding_l2=0.1))
    penalised.load_state_dict(plain.state_dict())
    batch = batches(tiny)[0]

    extra = penalised(batch).loss - plain(batch).loss  # type: ignore[operator]

    rows = [t(batch.sparse[:, i]) for i, t in enumerate(plain.model.embedding.tables)]  # type: ignore[union-attr]
    expected = 0.1 * sum(r.pow(2).sum(dim=1).mean() for r in rows)
    torch.testing.assert_close(extra, expected)


def test_sparse_gradients_update_only_the_rows_a_batch_read(tiny: Any) -> None:
    torch.manual_seed(0)
    cfg = tiny.config(sparse_embeddings=True)
    objective = build_objective(cfg)
    use_sparse_gradients(objective)
    optimizers = build_optimizers(objective, cfg.train)
    user_table = embedding_tables(objective)[0]
    before = user_table.weight.detach().clone()
    batch = batches(tiny)[0]

    train_epoch(objective, [batch], optimizers)

    assert [type(o).__name__ for o in optimizers] == ["Adam", "SparseAdam"]
    changed = (user_table.weight.detach() != before).any(dim=1)
    read = torch.zeros_like(changed)
    read[batch.sparse[:, 0]] = True
    assert torch.equal(changed, read)


def test_weight_decay_falls_on_dense_layers_and_embedding_decay_on_tables_and_neither_on_task_weights(
    tiny: Any,
) -> None:
    cfg = tiny.config(weight_decay=0.01, embedding_decay=0.02, task_weighting="uncertainty")
    objective = build_objective(cfg)

    (adam,) = build_optimizers(objective, cfg.train)

    decay = {id(p): g["weight_decay"] for g in adam.param_groups for p in g["params"]}
    tables = {id(p) for t in embedding_tables(objective) for p in t.parameters()}
    log_var = id(objective.loss.weighting.log_var)  # type: ignore[union-attr]
    assert set(decay) == {id(p) for p in objective.parameters()}  # every parameter is trained
    assert decay[log_var] == 0.0
    assert {decay[t] for t in tables} == {0.02}
    assert {v for k, v in decay.items() if k not in tables and k != log_var} == {0.01}


def test_embedding_decay_shrinks_the_rows_a_batch_did_not_read_and_no_row_without_it(tiny: Any) -> None:
    batch = batches(tiny)[0]
    read = torch.zeros(tiny.model.buckets("user_id"), dtype=torch.bool)
    read[batch.sparse[:, 0]] = True
    norms = {}
    for decay in (0.0, 0.01):
        torch.manual_seed(0)
        cfg = tiny.config(embedding_decay=decay)
        objective = build_objective(cfg)
        optimizers = build_optimizers(objective, cfg.train)
        users = embedding_tables(objective)[0].weight
        before = users.detach().norm(dim=1)
        train_epoch(objective, [batch], optimizers)
        norms[decay] = (before, users.detach().norm(dim=1))

    (before, after), (decayed_before, decayed_after) = norms[0.0], norms[0.01]
    assert not read.all()
    assert torch.equal(after[~read], before[~read])  # no gradient, no decay: unread rows stay
    # with decay every unread row moved toward 0, by about the learning rate per coordinate
    assert (decayed_after[~read] < decayed_before[~read]).all()


@pytest.mark.parametrize("sparse", [False, True])
def test_a_checkpoint_restores_weights_and_optimizer_moments_and_loads_as_a_plain_model(
    tiny: Any, tmp_path: Path, sparse: bool
) -> None:
    torch.manual_seed(0)
    cfg = tiny.config(sparse_embeddings=sparse)
    trained = build_objective(cfg)
    if sparse:
        use_sparse_gradients(trained)
    optimizers = build_optimizers(trained, cfg.train)
    train_epoch(trained, batches(tiny), optimizers)
    save_state(str(tmp_path), trained, optimizers)

    torch.manual_seed(1)
    fresh = build_objective(cfg)
    if sparse:
        use_sparse_gradients(fresh)
    fresh_optimizers = build_optimizers(fresh, cfg.train)
    load_state(str(tmp_path), fresh, fresh_optimizers)

    for (name, a), b in zip(trained.state_dict().items(), fresh.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    for old, new in zip(optimizers, fresh_optimizers, strict=True):
        moments = [s["exp_avg"] for s in old.state.values()], [s["exp_avg"] for s in new.state.values()]
        assert len(moments[0]) == len(moments[1]) > 0
        for a, b in zip(*moments, strict=True):
            torch.testing.assert_close(a, b)
    model_state = model_state_dict(str(tmp_path), build_objective(cfg))
    assert model_state.keys() == trained.model.state_dict().keys()


def test_progress_counts_epochs_since_the_best_and_stops_after_patience() -> None:
    progress = Progress()
    for epoch, auc in enumerate([0.60, 0.65, 0.64, 0.66, 0.65, 0.65]):
        progress = progress.after(epoch, auc, "max")

    assert (progress.best_epoch, progress.best_value, progress.stale_epochs) == (3, 0.66, 2)
    assert progress.exhausted(2) and not progress.exhausted(3) and not progress.exhausted(0)
    assert Progress.from_metrics(json.loads(json.dumps(progress.as_metrics()))) == progress


def test_nan_never_beats_a_value_and_min_mode_prefers_lower() -> None:
    assert not is_better(math.nan, 0.5, "max")
    assert is_better(0.5, math.nan, "max")
    assert is_better(0.3, 0.4, "min") and not is_better(0.3, 0.4, "max")


def _write_checkpoint(run_dir: Path, name: str, **metrics: Any) -> None:
    (run_dir / name).mkdir(parents=True)
    (run_dir / name / "metrics.json").write_text(json.dumps(metrics))


def test_best_epoch_takes_the_later_folder_of_a_repeated_epoch_and_the_best_metric(tmp_path: Path) -> None:
    _write_checkpoint(tmp_path, "checkpoint_2026-01-01_00-00-01", epoch=0, auc=0.6)
    _write_checkpoint(tmp_path, "checkpoint_2026-01-01_00-00-02", epoch=1, auc=0.9)  # cut short by a failure
    _write_checkpoint(tmp_path, "checkpoint_2026-01-01_00-00-03", epoch=1, auc=0.7)
    _write_checkpoint(tmp_path, "checkpoint_2026-01-01_00-00-04", epoch=2, auc=0.65)
    (tmp_path / "checkpoint_manager_snapshot.json").write_text("{}")

    result = best_epoch(str(tmp_path), "auc", "max")
    lowest = best_epoch(str(tmp_path), "auc", "min")

    assert [m["epoch"] for m in result.history] == [0, 1, 2]
    assert result.best == {"epoch": 1, "auc": 0.7}
    assert result.checkpoint_path.endswith("checkpoint_2026-01-01_00-00-03")
    assert lowest.best["epoch"] == 0


def test_validation_without_a_process_group_scores_every_row_as_scikit_learn_does(tiny: Any) -> None:
    torch.manual_seed(0)
    objective = build_objective(tiny.config())
    data = batches(tiny, rows=700)
    users = np.arange(700) % 37

    local = predict_in_step(objective, data, data[0], tiny.tasks)
    metrics = validation_metrics(local, users, tiny.tasks)
    halved = validation_metrics(local, users, tiny.tasks, keep_rate=0.5)

    assert len(local.labels) == metrics["valid/rows"] == 700
    assert set(metric_names(tiny.tasks)) == set(metrics) - {"valid/rows"}
    aucs = []
    for i, task in enumerate(tiny.tasks):
        y, p = local.labels[:, i], local.probs[:, i]
        aucs.append(roc_auc_score(y, p))
        assert metrics[f"valid/{task}_auc"] == pytest.approx(aucs[-1], abs=1e-12)
        assert metrics[f"valid/{task}_logloss"] == pytest.approx(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)), rel=1e-6)
        assert metrics[f"valid/{task}_calibration"] == pytest.approx(p.mean() / y.mean(), rel=1e-6)
    assert metrics["valid/mean_auc"] == pytest.approx(np.mean(aucs), abs=1e-12)
    # the down-sampling correction lowers every click probability, so the ranking stays
    assert halved["valid/click_auc"] == pytest.approx(metrics["valid/click_auc"], abs=1e-12)
    assert halved["valid/click_calibration"] < metrics["valid/click_calibration"]


def test_tiny_config_overrides_only_what_it_is_given(tiny: Any) -> None:
    cfg = tiny.config(parallelism="fsdp")

    assert cfg.train.parallelism == "fsdp"
    assert dataclasses.replace(cfg.train, parallelism="ddp") == tiny.config().train
