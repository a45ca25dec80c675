"""The evaluation report: `report.md`, `metrics.json` and PNG plots in one folder.

Plain Python over small, already-aggregated numbers (metric tables, calibration
curves, per-epoch history), so it runs on the driver and is tested without Spark.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt

from mtlrec import storage
from mtlrec.evaluation.sections import Block, Image, Section, Table, save_figure, to_markdown


def plot_calibration(path: str, curves: dict[str, dict[str, list[float]]]) -> None:
    fig, axes = plt.subplots(1, len(curves), figsize=(4.5 * len(curves), 4), squeeze=False)
    for ax, (task, curve) in zip(axes[0], curves.items(), strict=True):
        top = max(curve["predicted"] + curve["observed"] + [1e-6]) * 1.05
        ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="perfect")
        ax.plot(curve["predicted"], curve["observed"], marker="o", label="model")
        ax.set(title=f"calibration: {task}", xlabel="mean predicted", ylabel="observed rate")
        ax.set(xlim=(0, top), ylim=(0, top))
        ax.legend(loc="upper left")
    save_figure(fig, path)


def plot_learning_curves(path: str, history: list[dict[str, Any]], tasks: list[str]) -> None:
    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, auc_ax) = plt.subplots(1, 2, figsize=(9, 4))
    loss_ax.plot(epochs, [h["train/loss"] for h in history], marker="o")
    loss_ax.set(title="train loss", xlabel="epoch", ylabel="weighted BCE")
    for task in tasks:
        auc_ax.plot(epochs, [h[f"valid/{task}_auc"] for h in history], marker="o", label=task)
    auc_ax.set(title="validation AUC", xlabel="epoch", ylabel="AUC")
    auc_ax.legend()
    save_figure(fig, path)


def plot_task_auc(path: str, test: dict[str, dict[str, float]], oracle: dict[str, dict[str, float]]) -> None:
    tasks = list(test)
    fig, ax = plt.subplots(figsize=(5, 4))
    x = range(len(tasks))
    ax.bar([i - 0.2 for i in x], [test[t]["auc"] for t in tasks], width=0.4, label="model")
    if oracle:
        ax.bar([i + 0.2 for i in x], [oracle[t]["auc"] for t in tasks], width=0.4, label="oracle")
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(list(x), tasks)
    ax.set(title="test AUC per task", ylabel="AUC", ylim=(0.4, 1.0))
    ax.legend()
    save_figure(fig, path)


def plot_ranking(path: str, ranking: dict[str, dict[str, float]], k: int) -> None:
    """Recall@K and NDCG@K per `<model>/<strategy>`, side by side."""
    keys = list(ranking)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(keys)), 3.5))
    x = range(len(keys))
    ax.bar([i - 0.2 for i in x], [ranking[key]["recall"] for key in keys], width=0.4, label=f"recall@{k}")
    ax.bar([i + 0.2 for i in x], [ranking[key]["ndcg"] for key in keys], width=0.4, label=f"NDCG@{k}")
    ax.set_xticks(list(x), keys, rotation=20, ha="right")
    ax.set(title="ranking on the test days' purchases, per model/strategy")
    ax.legend()
    save_figure(fig, path)


COLUMNS = ["auc", "gauc", "logloss", "calibration"]


def write_plots(out_dir: str, *, metrics: dict[str, Any], history: list[dict[str, Any]]) -> list[Image]:
    """The report's PNGs under `out_dir`: calibration, learning curves, AUC per task, ranking."""
    test, oracle = metrics["test"], metrics.get("oracle", {})
    images = [Image("calibration", os.path.join(out_dir, "calibration.png"))]
    plot_calibration(images[-1].path, metrics["calibration_curve"])
    if history:
        images.append(Image("learning_curves", os.path.join(out_dir, "learning_curves.png")))
        plot_learning_curves(images[-1].path, history, list(test))
    images.append(Image("task_auc", os.path.join(out_dir, "task_auc.png")))
    plot_task_auc(images[-1].path, test, oracle)
    if metrics.get("ranking"):
        images.append(Image("ranking", os.path.join(out_dir, "ranking.png")))
        plot_ranking(images[-1].path, metrics["ranking"], metrics.get("ranking_k", 0))
    return images


def lift_table(test: dict[str, dict[str, float]], oracle: dict[str, dict[str, float]]) -> Table:
    """Model AUC, oracle AUC and lift share = (AUC - 0.5) / (oracle AUC - 0.5), per task with an oracle."""
    rows = [
        [task, test[task]["auc"], oracle[task]["auc"], (test[task]["auc"] - 0.5) / (oracle[task]["auc"] - 0.5)]
        for task in test
        if task in oracle
    ]
    return Table(["task", "model AUC", "oracle AUC", "lift share"], rows)


def uplift_table(uplift: dict[str, dict[str, dict[str, float]]]) -> Table:
    rows = [[name, task, v["auc"], v["gauc"], v["logloss"]] for name, u in uplift.items() for task, v in u.items()]
    return Table(["baseline", "task", "AUC uplift", "GAUC uplift", "logloss change"], rows)


def metric_sections(metrics: Mapping[str, Any], images: list[Image]) -> list[Section]:
    """The sections of report.md: test metrics, oracle, thresholds, baselines, ranking, plots.

    `metrics` holds `test` (task -> auc, gauc, logloss, calibration, ...), optional
    `oracle` (task -> auc), `thresholds`, `baselines` with `uplift`, and `ranking`.
    """
    test, oracle = metrics["test"], metrics.get("oracle", {})
    rows = [[task, *[test[task].get(c, float("nan")) for c in COLUMNS]] for task in test]
    sections = [Section("Test split, per task", [Table(["task", *COLUMNS], rows)])]
    if oracle:
        sections.append(
            Section(
                "Against the ground truth",
                ["Lift share = (AUC - 0.5) / (oracle AUC - 0.5).", lift_table(test, oracle)],
            )
        )
    if metrics.get("thresholds"):
        rows = [[t, v["threshold"], v["precision"], v["recall"], v["f1"]] for t, v in metrics["thresholds"].items()]
        table = Table(["task", "threshold", "precision", "recall", "F1"], rows)
        sections.append(Section("Classification at a threshold (`evaluate.thresholds`)", [table]))
    if metrics.get("baselines"):
        rows = [[name, task, *[v.get(c, float("nan")) for c in COLUMNS]] for name, b in metrics["baselines"].items()
                for task, v in b.items()]  # fmt: skip
        note = "Uplift of the run's model over each baseline (AUC and GAUC: higher is better; logloss: lower)."
        blocks: list[Block] = [Table(["model", "task", *COLUMNS], rows), note, uplift_table(metrics["uplift"])]
        sections.append(Section("Baselines on the test split", blocks))
    ranking, k = metrics.get("ranking", {}), metrics.get("ranking_k", 0)
    if ranking:
        names = ["precision", "recall", "ndcg", "hit_rate", "coverage", "users"]
        text = "\n".join(
            [
                f"Each strategy's top-{k} as of the first test day for every user who bought anything on",
                "the test days, against the items they bought (no list: no hits); coverage is the share",
                "of the catalogue in those lists. `popular/most_popular` ranks the same candidates by",
                "30-day clicks.",
            ]
        )
        table = Table(["model/strategy", *names], [[key, *[v[n] for n in names]] for key, v in ranking.items()])
        sections.append(Section(f"Ranking at K = {k}", [text, table]))
    sections.append(Section("Plots", list(images)))
    return sections


def write_report(out_dir: str, *, title: str, metrics: dict[str, Any], history: list[dict[str, Any]]) -> list[str]:
    """Write report.md, metrics.json and the plots under `out_dir` (a local folder); return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    images = write_plots(out_dir, metrics=metrics, history=history)
    with open(os.path.join(out_dir, "report.md"), "w") as out:
        out.write(to_markdown(title, metric_sections(metrics, images)))
    storage.write_json(os.path.join(out_dir, "metrics.json"), metrics)
    return [os.path.join(out_dir, "report.md"), os.path.join(out_dir, "metrics.json"), *[i.path for i in images]]
