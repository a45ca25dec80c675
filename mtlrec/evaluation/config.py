"""`evaluate` settings: histogram resolution, thresholds and the ranking cut-off."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EvaluateConfig:
    auc_bins: int = 100_000
    # precision, recall and F1 of `p >= threshold`, per task (tasks not trained are ignored)
    thresholds: dict[str, float] = field(default_factory=lambda: {"click": 0.2, "purchase": 0.02})
    # ranking metrics: each strategy's top-K for every test user as of the first test
    # day, against the items each bought during the test days
    ranking_k: int = 10
    # permutation importance of each feature group on a sample of the test split
    importance_rows: int = 20_000  # test rows sampled (0: no importance)
    importance_repeats: int = 3  # shuffles per group; their spread decides "indistinguishable from zero"
    seed: int = 5

    def checks(self) -> list[tuple[bool, str]]:
        return [
            (self.ranking_k >= 1, "evaluate.ranking_k must be >= 1"),
            (self.auc_bins >= 2, "evaluate.auc_bins must be >= 2"),
            (self.importance_rows >= 0, "evaluate.importance_rows must be >= 0 (0: no importance)"),
            (self.importance_repeats >= 2, "evaluate.importance_repeats must be >= 2"),
        ]
