"""Permutation feature importance: how much each task's AUC drops when a feature group is shuffled.

Breiman (2001) and Fisher, Rudin & Dominici (2019): shuffling a feature's values
across rows breaks its link to the label while keeping its distribution, so the drop
in AUC is what the model gets from it. Columns that describe one thing (a user's
counts over three windows, say) are shuffled together with one permutation: shuffled
alone, each would be covered by its still-intact siblings and look useless.

Pure numpy and torch on a sample of test rows already on the driver; the caller
(evaluation) chooses the sample. The AUC is that of the logits, the model's own
ranking: the down-sampling correction rescales each row and is left out.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib
import numpy as np
import torch
from torch import nn

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

from mtlrec.layout import (  # noqa: E402
    CLICK_SEQUENCE,
    COUNT_KINDS,
    CROSS_DENSE,
    ITEM_DENSE,
    USER_DENSE,
    FeatureLayout,
)
from mtlrec.metrics import auc  # noqa: E402
from mtlrec.models.batch import collate  # noqa: E402
from mtlrec.schema import CATEGORY_ID, ITEM_ID, USER_ID  # noqa: E402

# a mean drop this small (AUC points) is nothing, however steady across repeats
EPSILON = 1e-4
_BATCH_ROWS = 65_536
# sparse columns by the id they are looked up from; any other sparse column is its own group
_ID_GROUPS = {USER_ID: "user ids", ITEM_ID: "item ids", CATEGORY_ID: "category id"}
_RATE_STEMS = ("ctr", "cvr", "days_since_last")
_TOP = 3  # groups `describe` names per task
_WINDOW = re.compile(r"_\d+d$")
_DIGITS = re.compile(r"\d+")


def dense_family(name: str) -> str:
    """The group of a dense column: its owner (user, item, user x category) and kind.

    Counts over any window are one kind, CTR/CVR and recency another; any other
    declared feature is a kind of its own by its stem (`user_top2_share` -> "user top
    share"). A column no feature tuple of `layout` declares is a group of its own.
    """
    if name in CROSS_DENSE:
        return "user x category"
    owner = "user" if name in USER_DENSE else "item" if name in ITEM_DENSE else None
    if owner is None:
        return name
    stem = _WINDOW.sub("", name.removeprefix(f"{owner}_"))
    if stem in COUNT_KINDS:
        return f"{owner} counts"
    if stem in _RATE_STEMS:
        return f"{owner} rates"
    kind = _DIGITS.sub("", stem).replace("_", " ").strip()
    return f"{owner} {kind}"


def feature_groups(layout: FeatureLayout) -> dict[str, tuple[str, ...]]:
    """Group name -> the layout columns shuffled together, sparse groups first, in layout order."""
    groups: dict[str, list[str]] = {}
    for feature in layout.sparse:
        name = "click sequence" if feature.name == CLICK_SEQUENCE else _ID_GROUPS.get(feature.source, feature.source)
        groups.setdefault(name, []).append(feature.name)
    for column in layout.dense:
        groups.setdefault(dense_family(column), []).append(column)
    return {name: tuple(columns) for name, columns in groups.items()}


@dataclass(frozen=True)
class GroupImportance:
    group: str
    columns: tuple[str, ...]
    drop: dict[str, float]  # task -> mean AUC drop over the repeats (base - shuffled)
    std: dict[str, float]  # task -> sample std of the drop over the repeats (0 with one repeat)
    negligible: dict[str, bool]  # task -> indistinguishable from zero (see `is_negligible`)


@dataclass(frozen=True)
class ImportanceResult:
    tasks: tuple[str, ...]
    base_auc: dict[str, float]
    groups: tuple[GroupImportance, ...]
    rows: int
    repeats: int
    seed: int

    def ranked(self, task: str) -> list[GroupImportance]:
        """The groups by mean AUC drop on `task`, largest first."""
        return sorted(self.groups, key=lambda g: -g.drop[task])

    def drop_candidates(self) -> list[str]:
        """Groups no task loses anything without: every task's drop negligible or below zero."""
        return [g.group for g in self.groups if all(g.negligible[t] or g.drop[t] < 0 for t in self.tasks)]


def is_negligible(mean: float, std: float, repeats: int) -> bool:
    """|mean drop| within two standard errors of zero (2 * std / sqrt(repeats)), or below EPSILON."""
    return abs(mean) <= max(2.0 * std / math.sqrt(repeats), EPSILON)


def _logits(model: nn.Module, columns: Mapping[str, np.ndarray], layout: FeatureLayout) -> dict[str, np.ndarray]:
    rows = len(next(iter(columns.values())))
    parts: dict[str, list[np.ndarray]] = {t: [] for t in layout.tasks}
    with torch.no_grad():
        for start in range(0, rows, _BATCH_ROWS):
            chunk = {c: columns[c][start : start + _BATCH_ROWS] for c in layout.columns}
            logits = model(collate(chunk, layout))
            for task in layout.tasks:
                parts[task].append(logits[task].numpy())
    return {task: np.concatenate(parts[task]) for task in layout.tasks}


def _aucs(logits: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray], tasks: tuple[str, ...]) -> np.ndarray:
    return np.array([auc(labels[t], logits[t]) for t in tasks])  # [T]


def _summarised(name: str, columns: tuple[str, ...], drops: np.ndarray, tasks: tuple[str, ...]) -> GroupImportance:
    """Mean, std and verdict per task of a group's drops [R, T] over R repeats."""
    repeats = len(drops)
    mean = drops.mean(axis=0)  # [T]
    std = drops.std(axis=0, ddof=1) if repeats > 1 else np.zeros(len(tasks))  # [T]
    return GroupImportance(
        group=name,
        columns=columns,
        drop={t: float(mean[i]) for i, t in enumerate(tasks)},
        std={t: float(std[i]) for i, t in enumerate(tasks)},
        negligible={t: is_negligible(float(mean[i]), float(std[i]), repeats) for i, t in enumerate(tasks)},
    )


def permutation_importance(
    model: nn.Module,
    layout: FeatureLayout,
    columns: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    *,
    tasks: tuple[str, ...] | None = None,
    repeats: int = 3,
    seed: int = 0,
) -> ImportanceResult:
    """Each feature group's AUC drop per task, shuffled `repeats` times (seeded).

    `columns` holds the layout's columns (one array per column, rows aligned), `labels`
    a 0/1 array per task; `tasks` defaults to the layout's.
    """
    tasks = tasks or layout.tasks
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    rows = len(labels[tasks[0]])
    data = {c: np.asarray(columns[c]) for c in layout.columns}
    rng = np.random.default_rng(seed)
    training = model.training
    model.eval()
    try:
        base = _aucs(_logits(model, data, layout), labels, tasks)
        groups = []
        for name, group_columns in feature_groups(layout).items():
            drops = np.empty((repeats, len(tasks)))  # [R, T]
            for r in range(repeats):
                order = rng.permutation(rows)  # one permutation for every column of the group
                shuffled = data | {c: data[c][order] for c in group_columns}
                drops[r] = base - _aucs(_logits(model, shuffled, layout), labels, tasks)
            groups.append(_summarised(name, group_columns, drops, tasks))
    finally:
        model.train(training)
    base_auc = {t: float(base[i]) for i, t in enumerate(tasks)}
    return ImportanceResult(tasks, base_auc, tuple(groups), rows=rows, repeats=repeats, seed=seed)


def plot_importance(result: ImportanceResult, out_dir: str) -> list[str]:
    """One horizontal bar chart per task, `importance_<task>.png` in `out_dir` (local); returns the paths.

    Bars are mean drops with the std over repeats as error bars, grey when negligible.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for task in result.tasks:
        ranked = result.ranked(task)[::-1]  # largest drop at the top
        fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(ranked) + 1.5))
        colours = ["lightgrey" if g.negligible[task] else "tab:blue" for g in ranked]
        ax.barh(
            [g.group for g in ranked], [g.drop[task] for g in ranked], xerr=[g.std[task] for g in ranked], color=colours
        )
        ax.axvline(0.0, color="grey", linewidth=1)
        ax.set(
            title=f"permutation importance: {task} (AUC {result.base_auc[task]:.3f}, {result.rows} rows)",
            xlabel=f"AUC drop when the group is shuffled (mean +- std of {result.repeats}; grey: negligible)",
        )
        fig.tight_layout()
        path = os.path.join(out_dir, f"importance_{task}.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def describe(result: ImportanceResult) -> str:
    """A short "what the model relies on" paragraph for the evaluation report."""
    parts = []
    for task in result.tasks:
        top = [g for g in result.ranked(task) if not g.negligible[task] and g.drop[task] > 0][:_TOP]
        named = ", ".join(f"{g.group} ({g.drop[task]:.4f} +- {g.std[task]:.4f})" for g in top) or "no group"
        parts.append(f"for {task} (AUC {result.base_auc[task]:.4f}) on {named}")
    text = (
        f"What the model relies on (AUC drop when a feature group is shuffled, {result.rows} rows, "
        f"{result.repeats} shuffles each): " + "; ".join(parts) + "."
    )
    candidates = result.drop_candidates()
    rule = f"|mean drop| <= 2 std / sqrt({result.repeats}) or < {EPSILON:g}, or a drop below zero"
    if candidates:
        return text + f" No task loses anything without {', '.join(candidates)} ({rule}): candidates to drop."
    return text + " Every group matters to at least one task."
