"""The behaviour part of the report: tables and plots from collected behaviour aggregates.

Plain Python over the few rows the behaviour tables hold per day, cohort week and top
category (collected with a limit where a table grows with the catalogue), so it is
tested without Spark. A missing rate (null: its denominator was 0, as impression
rates of a log without impressions) is shown as a dash and left out of the plots.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from mtlrec import schema as S
from mtlrec.evaluation.sections import Image, Section, Table, save_figure

Row = Mapping[str, Any]
RATES = {
    S.CTR: "CTR",
    S.CART_RATE: "cart / click",
    S.CVR: "CVR (purchase / click)",
    S.PURCHASE_RATE: "purchase / impression",
}
FUNNEL_HEADER = ["impressions", "clicks", "carts", "purchases", *RATES.values()]
FUNNEL_COLUMNS = [S.IMPRESSIONS, S.CLICKS, S.CARTS, S.PURCHASES, *RATES]
GROWTH_TICKS = (0.1, 0.2, 0.33, 0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)


@dataclass(frozen=True)
class BehaviourRows:
    """Collected rows of the behaviour tables; `categories`, `growing` and `shrinking` are already top-N."""

    daily: Sequence[Row]
    categories: Sequence[Row]
    cohorts: Sequence[Row]
    growing: Sequence[Row]
    shrinking: Sequence[Row]
    min_clicks: int  # categories with fewer clicks in both windows together are left out of the trends


def _value(v: Any) -> float:
    return float("nan") if v is None else float(v)


def plot_funnel(path: str, daily: Sequence[Row]) -> str:
    days = [str(r[S.DT]) for r in daily]
    fig, ax = plt.subplots(figsize=(max(8.0, 0.6 * len(days) + 2.5), 3.8))
    for column, label in RATES.items():
        values = [_value(r[column]) for r in daily]
        if not all(math.isnan(v) for v in values):
            ax.plot(days, values, marker="o", label=label)
    ax.set(title="funnel rates per day", ylabel="rate", ylim=(0, None))
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save_figure(fig, path)


def cohort_grid(cohorts: Sequence[Row], column: str) -> tuple[list[str], list[list[float]]]:
    """Cohort weeks (rows) by week offset (columns) of `column`; nan past the log's end."""
    weeks = sorted({str(r[S.COHORT_WEEK]) for r in cohorts})
    width = max((int(r[S.WEEK_OFFSET]) for r in cohorts), default=-1) + 1
    grid = [[float("nan")] * width for _ in weeks]
    for r in cohorts:
        grid[weeks.index(str(r[S.COHORT_WEEK]))][int(r[S.WEEK_OFFSET])] = _value(r[column])
    return weeks, grid


def plot_cohorts(path: str, cohorts: Sequence[Row]) -> str:
    """Heatmaps (cohort week x weeks since) of the share active and the share buying."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 1.5 + 0.5 * len({r[S.COHORT_WEEK] for r in cohorts})))
    for ax, (column, title) in zip(axes, ((S.RETURN_RATE, "active"), (S.PURCHASE_SHARE, "bought")), strict=True):
        weeks, grid = cohort_grid(cohorts, column)
        image = ax.imshow(grid, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
        for i, line in enumerate(grid):
            for j, v in enumerate(line):
                if not math.isnan(v):
                    ax.text(j, i, f"{v:.0%}", ha="center", va="center", color="white" if v > 0.6 else "black")
        ax.set_xticks(range(len(grid[0]) if grid else 0))
        ax.set_yticks(range(len(weeks)), weeks)
        ax.set(title=f"share of the cohort {title}", xlabel="weeks since the first event", ylabel="cohort week")
        fig.colorbar(image, ax=ax)
    return save_figure(fig, path)


def plot_trends(path: str, growing: Sequence[Row], shrinking: Sequence[Row]) -> str:
    """Horizontal bars of click growth, top growing above the top shrinking, on a log axis."""
    rows = list(growing) + [r for r in reversed(shrinking) if r not in growing]
    labels = [str(r[S.CATEGORY_ID]) for r in rows]
    values = [float(r[S.CLICK_GROWTH]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 1.0 + 0.3 * max(1, len(rows))))
    # bars from 1 (no change) to the growth, so shrinking ones point left
    widths = [v - 1.0 for v in values[::-1]]
    ax.barh(labels[::-1], widths, left=1.0, color=["tab:green" if w >= 0 else "tab:red" for w in widths])
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    low, high = min([1.0, *values]), max([1.0, *values])
    ticks = [t for t in GROWTH_TICKS if low / 1.1 <= t <= high * 1.1]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(title="click growth per category: (recent + 1) / (previous + 1)", xlabel="growth (log scale)")
    return save_figure(fig, path)


def _funnel_cells(r: Row) -> list[Any]:
    return [int(r[c]) if c in (S.IMPRESSIONS, S.CLICKS, S.CARTS, S.PURCHASES) else r[c] for c in FUNNEL_COLUMNS]


def _trend_cells(r: Row) -> list[Any]:
    return [
        str(r[S.CATEGORY_ID]),
        int(r[S.PREVIOUS_CLICKS]),
        int(r[S.RECENT_CLICKS]),
        float(r[S.CLICK_GROWTH]),
        int(r[S.PREVIOUS_PURCHASES]),
        int(r[S.RECENT_PURCHASES]),
        float(r[S.PURCHASE_GROWTH]),
    ]


def behaviour_sections(rows: BehaviourRows, out_dir: str) -> list[Section]:
    """Funnel, cohort and category-trend sections; their plots go under `out_dir`."""
    funnel = Section(
        "Behaviour: funnel",
        [
            "Events per day and the funnel rates; a rate whose denominator is 0 (no impressions in the"
            " log, as in Taobao's) is a dash.",
            Table(["day", *FUNNEL_HEADER], [[str(r[S.DT]), *_funnel_cells(r)] for r in rows.daily]),
            Image("funnel_rates", plot_funnel(os.path.join(out_dir, "funnel_rates.png"), rows.daily)),
            f"The {len(rows.categories)} categories with the most clicks over the log:",
            Table(["category", *FUNNEL_HEADER], [[str(r[S.CATEGORY_ID]), *_funnel_cells(r)] for r in rows.categories]),
        ],
    )
    weeks, returning = cohort_grid(rows.cohorts, S.RETURN_RATE)
    sizes = {str(r[S.COHORT_WEEK]): int(r[S.COHORT_SIZE]) for r in rows.cohorts}
    offsets = len(returning[0]) if returning else 0
    cohort_rows = [
        [week, sizes[week], *[None if math.isnan(v) else v for v in line]]
        for week, line in zip(weeks, returning, strict=True)
    ]
    cohorts = Section(
        "Behaviour: weekly cohorts",
        [
            "New users by the week (Monday) of their first event in the log, and the share of each cohort"
            " active in each later week (users active before the log began count as new in its first week).",
            Table(["cohort week", "users", *[f"week {i}" for i in range(offsets)]], cohort_rows),
            Image("cohorts", plot_cohorts(os.path.join(out_dir, "cohorts.png"), rows.cohorts)),
        ],
    )
    window = next((int(r[S.WINDOW_DAYS]) for r in [*rows.growing, *rows.shrinking]), 0)
    header = ["category", "clicks before", "clicks recent", "click growth", "buys before", "buys recent", "buy growth"]
    trends = Section(
        "Behaviour: category trends",
        [
            f"Clicks and purchases of the last {window} days against the {window} days before, per category;"
            f" growth = (recent + 1) / (previous + 1), among categories with at least {rows.min_clicks} clicks"
            " in the two windows together. Top growing:",
            Table(header, [_trend_cells(r) for r in rows.growing]),
            "Top shrinking:",
            Table(header, [_trend_cells(r) for r in rows.shrinking]),
            Image(
                "category_trends",
                plot_trends(os.path.join(out_dir, "category_trends.png"), rows.growing, rows.shrinking),
            ),
        ],
    )
    return [funnel, cohorts, trends]
