"""The model input: a small typed batch, built by one collate function."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from mtlrec.layout import FeatureLayout


@dataclass(frozen=True)
class Batch:
    sparse: torch.Tensor  # [B, S] int64, one column per layout.sparse
    dense: torch.Tensor  # [B, D] float32, one column per layout.dense
    labels: torch.Tensor | None  # [B, T] float32, one column per layout.tasks

    def __len__(self) -> int:
        return int(self.sparse.shape[0])

    def to(self, device: torch.device | str) -> Batch:
        labels = None if self.labels is None else self.labels.to(device)
        return Batch(sparse=self.sparse.to(device), dense=self.dense.to(device), labels=labels)


def collate(columns: Mapping[str, np.ndarray], layout: FeatureLayout) -> Batch:
    """Whole-batch tensors from column arrays (Ray Data numpy batches, pandas columns).

    Columns not named by `layout` are ignored. Labels are attached only when every task
    column is present, so the same function serves training and scoring.
    """
    sparse = np.stack([np.asarray(columns[c], dtype=np.int64) for c in layout.sparse_columns], axis=1)
    dense = np.stack([np.asarray(columns[c], dtype=np.float32) for c in layout.dense], axis=1)
    # A user or item with no history has null rates; 0 is the "no evidence" value.
    dense[np.isnan(dense)] = 0.0
    labels = None
    if layout.tasks and all(t in columns for t in layout.tasks):
        stacked = np.stack([np.asarray(columns[t], dtype=np.float32) for t in layout.tasks], axis=1)
        labels = torch.from_numpy(stacked)
    return Batch(sparse=torch.from_numpy(sparse), dense=torch.from_numpy(dense), labels=labels)
