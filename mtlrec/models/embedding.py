"""The input block every model starts from: id embeddings, their dot products, dense features.

Index columns come from `features` (vocabulary indexes, or hashed ids). A table holds
one row per bucket of its feature, up to `model.embedding_max_rows`; an index the
table has no row for (a vocabulary grown since training, or more ids than the cap)
is hashed into `model.embedding_overflow_rows` extra rows instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mtlrec.layout import FeatureLayout
from mtlrec.models.batch import Batch
from mtlrec.models.config import ModelConfig

# odd 63-bit multiplier (Knuth's golden-ratio constant): spreads consecutive overflow
# indexes over the overflow rows
_HASH_MULTIPLIER = 0x1E3779B97F4A7C15


class HashedEmbedding(nn.Module):
    """Direct rows for indexes [0, direct); any other index shares a hashed overflow row."""

    def __init__(self, buckets: int, dim: int, max_rows: int, overflow_rows: int, init_std: float) -> None:
        super().__init__()
        if max_rows > 0 and max_rows <= overflow_rows:
            raise ValueError(f"embedding_max_rows ({max_rows}) must exceed embedding_overflow_rows ({overflow_rows})")
        self.direct = buckets if max_rows <= 0 else min(buckets, max_rows - overflow_rows)
        self.overflow = overflow_rows
        self.table = nn.Embedding(self.direct + overflow_rows, dim)
        nn.init.normal_(self.table.weight, std=init_std)

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """The table row of each index, [B] int64."""
        if self.overflow == 0:
            return index
        hashed = self.direct + torch.remainder(index * _HASH_MULTIPLIER, self.overflow)
        return torch.where((index >= 0) & (index < self.direct), index, hashed)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.table(self.rows(index))  # [B, dim]


@dataclass(frozen=True)
class Inputs:
    x: torch.Tensor  # [B, F] id embeddings, dense features and dot products, concatenated
    dots: torch.Tensor  # [B, P] the pairwise dot products alone (P = 0 without dot_interaction)


class FeatureEmbedding(nn.Module):
    """Per sparse feature an embedding, the dense features, optionally the pairwise dot products.

    The dot products are also returned alone, for the towers to add to each task's
    logit through a linear term (the FM part of DeepFM, Guo et al. 2017): the generated
    truth, like real preference, is additive in a user-item inner product, which a
    deep tower on concatenated embeddings only approximates.
    """

    pairs: torch.Tensor  # [2, S*(S-1)/2] index pairs (i < j) of the dot products

    def __init__(self, layout: FeatureLayout, cfg: ModelConfig) -> None:
        super().__init__()
        unsized = [cfg.setting(f.source) for f in layout.sparse if cfg.buckets(f.source) <= 0]
        if unsized:
            raise ValueError(
                f"{', '.join(unsized)} = 0: the table's rows come from the vocabulary "
                "(mtlrec.models.sizing.size_tables, which train runs) and were never resolved"
            )
        self.tables = nn.ModuleList(
            HashedEmbedding(
                cfg.buckets(f.source),
                cfg.embedding_dim,
                cfg.embedding_max_rows,
                cfg.embedding_overflow_rows,
                cfg.embedding_init_std,
            )
            for f in layout.sparse
        )
        n = len(layout.sparse)
        self.register_buffer("pairs", torch.triu_indices(n, n, offset=1), persistent=False)
        self.dot_interaction = cfg.dot_interaction
        self.dots_dim: int = self.pairs.shape[1] if cfg.dot_interaction else 0
        self.out_dim: int = n * cfg.embedding_dim + len(layout.dense) + self.dots_dim

    def forward(self, batch: Batch) -> Inputs:
        embedded = [table(batch.sparse[:, i]) for i, table in enumerate(self.tables)]  # S x [B, dim]
        if self.dot_interaction:
            stacked = torch.stack(embedded, dim=1)  # [B, S, dim]
            gram = stacked @ stacked.transpose(1, 2)  # [B, S, S]
            dots = gram[:, self.pairs[0], self.pairs[1]]  # [B, S*(S-1)/2]
        else:
            # the batch size as a tensor dimension, not `len(batch)`: an int fixes the batch
            # size of an exported graph (ONNX, TorchScript) to the example's
            dots = batch.dense.new_zeros((batch.dense.shape[0], 0))  # [B, 0]
        return Inputs(x=torch.cat([*embedded, batch.dense, dots], dim=1), dots=dots)  # [B, out_dim], [B, P]
