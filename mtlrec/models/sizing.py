"""Embedding tables sized from the data: a table's rows follow the vocabulary `features` built.

`model.user_buckets` (and `item_buckets`, `category_buckets`) at 0 means "one row per
vocabulary index, plus `model.embedding_headroom` for ids appended to the vocabulary
later"; a number caps the table there. Indexes beyond a table share its hashed
overflow rows (`embedding.HashedEmbedding`): they are counted, and a warning names
them, since a capped table is a choice the user should see the price of.

A warm-started model's tables never shrink: a day's grown vocabulary grows them, and
the earlier model's rows are copied into the larger tables (`grow_rows`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from mtlrec.models.config import BUCKETS, ModelConfig


@dataclass(frozen=True)
class Sizing:
    model: ModelConfig  # with every table's rows set
    vocabulary: dict[str, int]  # id column -> vocabulary indexes (the last index + 1)
    beyond: dict[str, int]  # id column -> indexes beyond its table (sharing the overflow rows)

    def warnings(self) -> list[str]:
        return [
            f"{self.model.setting(source)} = {self.model.buckets(source):,} rows for {self.vocabulary[source]:,} "
            f"{source} indexes: {n:,} of them share the {self.model.embedding_overflow_rows} hashed overflow rows"
            for source, n in self.beyond.items()
            if n > 0
        ]


def size_tables(
    model: ModelConfig, vocabulary: Mapping[str, Mapping[str, int]], *, at_least: ModelConfig | None = None
) -> Sizing:
    """`model` with each id table's rows resolved from `vocabulary` (the features stage's
    `id column -> {"size", "last_index"}`); `at_least`: a warm start's model, whose
    tables the new ones must hold."""
    rows: dict[str, int] = {}  # id column -> rows
    known, beyond = {}, {}
    categorical = [f.name for f in model.context if not f.numeric]
    for source in (*BUCKETS, *categorical):
        cap = model.buckets(source)
        if source in vocabulary:
            known[source] = int(vocabulary[source]["last_index"]) + 1
            wanted = known[source] + math.ceil(round(known[source] * model.embedding_headroom, 6))
            rows[source] = min(wanted, cap) if cap > 0 else wanted
        elif cap > 0:
            rows[source] = cap
        else:
            raise ValueError(
                f"{model.setting(source)} is 0 (rows from the vocabulary), but the run's features record no "
                f"vocabulary of {source}: run features first, or set {model.setting(source)}"
            )
        if at_least is not None:
            rows[source] = max(rows[source], at_least.buckets(source))
        beyond[source] = max(0, known.get(source, 0) - rows[source])
    tables: dict[str, Any] = {key: rows[source] for source, key in BUCKETS.items()}
    resolved = dataclasses.replace(model, **tables, context_buckets={s: rows[s] for s in categorical})
    return Sizing(model=resolved, vocabulary=known, beyond=beyond)


def grow_rows(old: torch.Tensor, new: torch.Tensor, overflow: int) -> torch.Tensor:
    """A larger table `new` (its fresh rows kept) holding `old`'s rows: its direct rows
    at the same indexes, its `overflow` hashed rows as the new table's overflow rows."""
    if old.shape[1:] != new.shape[1:] or old.shape[0] > new.shape[0] or old.shape[0] < overflow:
        raise ValueError(f"a table of shape {tuple(old.shape)} does not grow into {tuple(new.shape)}")
    out = new.clone()
    direct_old, direct_new = old.shape[0] - overflow, new.shape[0] - overflow
    out[:direct_old] = old[:direct_old]
    out[direct_new:] = old[direct_old:]
    return out
