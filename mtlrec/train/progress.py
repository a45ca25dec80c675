"""Early stopping: the best epoch so far by the selection metric, and how long ago it was.

The state travels in every checkpoint's metrics, so a run resumed after a failure
stops exactly where the uninterrupted run would have.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def is_better(value: float, best: float | None, mode: str) -> bool:
    """`value` beats `best` under `mode` (max or min); NaN never beats anything."""
    if math.isnan(value):
        return False
    if best is None or math.isnan(best):
        return True
    return value > best if mode == "max" else value < best


@dataclass(frozen=True)
class Progress:
    best_epoch: int = -1
    best_value: float | None = None
    stale_epochs: int = 0  # epochs since the best one

    def after(self, epoch: int, value: float, mode: str) -> Progress:
        if is_better(value, self.best_value, mode):
            return Progress(best_epoch=epoch, best_value=value, stale_epochs=0)
        return Progress(self.best_epoch, self.best_value, self.stale_epochs + 1)

    def exhausted(self, patience: int) -> bool:
        return patience > 0 and self.stale_epochs >= patience

    def as_metrics(self) -> dict[str, Any]:
        return {"best_epoch": self.best_epoch, "best_value": self.best_value, "stale_epochs": self.stale_epochs}

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any]) -> Progress:
        return cls(int(metrics["best_epoch"]), metrics["best_value"], int(metrics["stale_epochs"]))
