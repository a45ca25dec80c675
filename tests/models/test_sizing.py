"""Embedding tables sized from the vocabulary, capped when asked, grown for a warm start."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from mtlrec.layout import feature_layout
from mtlrec.models import build_model, collate
from mtlrec.models.config import ModelConfig
from mtlrec.models.sizing import size_tables
from mtlrec.run.artifact import ArtifactMetadata, save_artifact
from mtlrec.schema import CATEGORY_ID, ITEM_ID, USER_ID
from mtlrec.train.worker import _warm_start

TASKS = ("click", "purchase")
LAYOUT = feature_layout(TASKS)
SMALL = ModelConfig(embedding_dim=4, expert_dims=(8,), tower_dims=(4,), dropout=0.0, embedding_overflow_rows=3)
# features' vocabulary metrics: ids with an index of their own, and the last index
VOCABULARY = {
    USER_ID: {"size": 1000, "last_index": 1000},
    ITEM_ID: {"size": 300, "last_index": 300},
    CATEGORY_ID: {"size": 9, "last_index": 9},
}


def test_tables_follow_the_vocabulary_with_headroom_and_nothing_is_beyond_them() -> None:
    sizing = size_tables(dataclasses.replace(SMALL, embedding_headroom=0.1), VOCABULARY)

    # index 0 (out of vocabulary) and 1..last: last + 1 rows, 10% more (rounded up) for ids added later
    assert (sizing.model.user_buckets, sizing.model.item_buckets, sizing.model.category_buckets) == (1102, 332, 11)
    assert sizing.beyond == {USER_ID: 0, ITEM_ID: 0, CATEGORY_ID: 0} and sizing.warnings() == []


def test_a_cap_below_the_vocabulary_is_kept_and_the_ids_beyond_it_are_counted_and_named() -> None:
    sizing = size_tables(dataclasses.replace(SMALL, user_buckets=800, item_buckets=5000), VOCABULARY)

    assert sizing.model.user_buckets == 800  # the cap
    assert sizing.model.item_buckets == 332  # a cap above what the vocabulary needs is not filled
    assert sizing.beyond[USER_ID] == 1001 - 800 and sizing.beyond[ITEM_ID] == 0
    [warning] = sizing.warnings()
    assert "model.user_buckets" in warning and "800" in warning and "1,001" in warning and "201" in warning


def test_a_warm_started_models_tables_never_shrink() -> None:
    yesterday = dataclasses.replace(SMALL, user_buckets=2000, item_buckets=100, category_buckets=11)

    sizing = size_tables(SMALL, VOCABULARY, at_least=yesterday)

    assert (sizing.model.user_buckets, sizing.model.item_buckets) == (2000, 332)


def test_an_unsized_table_without_a_vocabulary_fails_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"model\.category_buckets is 0.*run features first"):
        size_tables(SMALL, {USER_ID: VOCABULARY[USER_ID], ITEM_ID: VOCABULARY[ITEM_ID]})
    with pytest.raises(ValueError, match=r"model\.user_buckets"):
        build_model(SMALL, LAYOUT)  # never built with an unresolved table


def test_a_warm_start_into_grown_tables_keeps_every_known_ids_predictions(tmp_path: Path) -> None:
    old_cfg = dataclasses.replace(SMALL, user_buckets=10, item_buckets=6, category_buckets=4)
    new_cfg = dataclasses.replace(old_cfg, user_buckets=25, item_buckets=9)
    torch.manual_seed(0)
    old = build_model(old_cfg, LAYOUT).eval()
    metadata = ArtifactMetadata(run_id="d1", model=dataclasses.asdict(old_cfg), layout=LAYOUT.to_dict(), keep_rate=1.0)
    save_artifact(str(tmp_path / "m"), old.state_dict(), metadata)
    torch.manual_seed(1)
    new = build_model(new_cfg, LAYOUT).eval()

    _warm_start(new, str(tmp_path / "m"), overflow_rows=SMALL.embedding_overflow_rows)

    rng = np.random.default_rng(0)
    rows = 64
    columns = {f.name: rng.integers(0, old_cfg.buckets(f.source), size=rows) for f in LAYOUT.sparse}
    columns |= {c: rng.normal(size=rows) for c in LAYOUT.dense} | {t: np.zeros(rows) for t in TASKS}
    known = collate(columns, LAYOUT)
    # an id beyond yesterday's table went to a hashed overflow row; today it has its own
    columns["user_idx"] = np.full(rows, 20)
    grown = collate(columns, LAYOUT)
    with torch.no_grad():
        before, after = old(known), new(known)
        for task in TASKS:
            torch.testing.assert_close(after[task], before[task])
        assert not torch.allclose(new(grown)["click"], old(grown)["click"])
