"""The model input: a small typed batch, built by one collate function."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from mtlrec.layout import FeatureLayout

# the optional per-row weight column of `samples`: 1 / keep-rate for rows of a
# down-sampled class, so the weighted loss is that of the full data
WEIGHT = "weight"


@dataclass(frozen=True)
class Batch:
    sparse: torch.Tensor  # [B, S] int64, one column per layout.sparse
    dense: torch.Tensor  # [B, D] float32, one column per layout.dense
    labels: torch.Tensor | None  # [B, T] float32, one column per layout.tasks
    weights: torch.Tensor  # [B] float32, ones unless the rows carry a `weight` column

    def __len__(self) -> int:
        return int(self.sparse.shape[0])

    def take(self, index: torch.Tensor) -> Batch:
        """The rows at `index` ([n] int64), in that order."""
        labels = None if self.labels is None else self.labels[index]
        return Batch(sparse=self.sparse[index], dense=self.dense[index], labels=labels, weights=self.weights[index])

    def to(self, device: torch.device | str) -> Batch:
        labels = None if self.labels is None else self.labels.to(device)
        return Batch(
            sparse=self.sparse.to(device), dense=self.dense.to(device), labels=labels, weights=self.weights.to(device)
        )


def collate(columns: Mapping[str, np.ndarray], layout: FeatureLayout) -> Batch:
    """Whole-batch tensors from column arrays (Ray Data numpy batches, pandas columns).

    Columns not named by `layout` (or `weight`) are ignored. Labels are attached only
    when every task column is present, so the same function serves training and scoring.
    """
    sparse = np.stack([np.asarray(columns[c], dtype=np.int64) for c in layout.sparse_columns], axis=1)
    dense = np.stack([np.asarray(columns[c], dtype=np.float32) for c in layout.dense], axis=1)
    # A user or item with no history has null rates; 0 is the "no evidence" value.
    dense[np.isnan(dense)] = 0.0
    labels = None
    if layout.tasks and all(t in columns for t in layout.tasks):
        stacked = np.stack([np.asarray(columns[t], dtype=np.float32) for t in layout.tasks], axis=1)
        labels = torch.from_numpy(stacked)
    if WEIGHT in columns:
        weights = torch.from_numpy(np.nan_to_num(np.asarray(columns[WEIGHT], dtype=np.float32), nan=1.0))
    else:
        weights = torch.ones(len(sparse), dtype=torch.float32)
    return Batch(sparse=torch.from_numpy(sparse), dense=torch.from_numpy(dense), labels=labels, weights=weights)
