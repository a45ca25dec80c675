"""The evaluation report: `report.md`, `metrics.json` and PNG plots in one folder.

Plain Python over small, already-aggregated numbers (metric tables, calibration
curves, per-epoch history), so it runs on the driver and is tested without Spark.
"""

from __future__ import annotations

import os
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

from mtlrec import storage  # noqa: E402


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def plot_calibration(path: str, curves: dict[str, dict[str, list[float]]]) -> None:
    fig, axes = plt.subplots(1, len(curves), figsize=(4.5 * len(curves), 4), squeeze=False)
    for ax, (task, curve) in zip(axes[0], curves.items(), strict=True):
        top = max(curve["predicted"] + curve["observed"] + [1e-6]) * 1.05
        ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="perfect")
        ax.plot(curve["predicted"], curve["observed"], marker="o", label="model")
        ax.set(title=f"calibration: {task}", xlabel="mean predicted", ylabel="observed rate")
        ax.set(xlim=(0, top), ylim=(0, top))
        ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_learning_curves(path: str, history: list[dict[str, Any]], tasks: list[str]) -> None:
    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, auc_ax) = plt.subplots(1, 2, figsize=(9, 4))
    loss_ax.plot(epochs, [h["train/loss"] for h in history], marker="o")
    loss_ax.set(title="train loss", xlabel="epoch", ylabel="weighted BCE")
    for task in tasks:
        auc_ax.plot(epochs, [h[f"valid/{task}_auc"] for h in history], marker="o", label=task)
    auc_ax.set(title="validation AUC", xlabel="epoch", ylabel="AUC")
    auc_ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(out_dir: str, *, title: str, metrics: dict[str, Any], history: list[dict[str, Any]]) -> list[str]:
    """Write the report files under `out_dir` (a local folder); return their paths.

    `metrics` holds `test` (task -> auc, gauc, logloss, calibration, ...), optional
    `oracle` (task -> auc) and `calibration_curve` (task -> predicted/observed/rows).
    """
    os.makedirs(out_dir, exist_ok=True)
    test, oracle = metrics["test"], metrics.get("oracle", {})
    tasks = list(test)
    files = {
        "calibration": os.path.join(out_dir, "calibration.png"),
        "learning_curves": os.path.join(out_dir, "learning_curves.png"),
        "task_auc": os.path.join(out_dir, "task_auc.png"),
    }
    plot_calibration(files["calibration"], metrics["calibration_curve"])
    if history:
        plot_learning_curves(files["learning_curves"], history, tasks)
    else:
        del files["learning_curves"]
    plot_task_auc(files["task_auc"], test, oracle)
    ranking, k = metrics.get("ranking", {}), metrics.get("ranking_k", 0)
    if ranking:
        files["ranking"] = os.path.join(out_dir, "ranking.png")
        plot_ranking(files["ranking"], ranking, k)

    columns = ["auc", "gauc", "logloss", "calibration"]
    rows = [[task, *[test[task].get(c, float("nan")) for c in columns]] for task in tasks]
    lines = [f"# {title}", "", "## Test split, per task", ""] + _table(["task", *columns], rows)
    if oracle:
        lift = [
            [task, test[task]["auc"], oracle[task]["auc"], (test[task]["auc"] - 0.5) / (oracle[task]["auc"] - 0.5)]
            for task in tasks
        ]
        lines += ["", "## Against the ground truth", "", "Lift share = (AUC - 0.5) / (oracle AUC - 0.5).", ""]
        lines += _table(["task", "model AUC", "oracle AUC", "lift share"], lift)
    if metrics.get("thresholds"):
        th = metrics["thresholds"]
        lines += ["", "## Classification at a threshold (`evaluate.thresholds`)", ""]
        lines += _table(
            ["task", "threshold", "precision", "recall", "F1"],
            [[t, v["threshold"], v["precision"], v["recall"], v["f1"]] for t, v in th.items()],
        )
    if metrics.get("baselines"):
        lines += ["", "## Baselines on the test split", ""]
        rows = [[name, task, *[v.get(c, float("nan")) for c in columns]] for name, b in metrics["baselines"].items()
                for task, v in b.items()]  # fmt: skip
        lines += _table(["model", "task", *columns], rows)
        lines += [
            "",
            "Uplift of the run's model over each baseline (AUC and GAUC: higher is better; logloss: lower).",
            "",
        ]
        rows = [[name, task, v["auc"], v["gauc"], v["logloss"]] for name, u in metrics["uplift"].items()
                for task, v in u.items()]  # fmt: skip
        lines += _table(["baseline", "task", "AUC uplift", "GAUC uplift", "logloss change"], rows)
    if ranking:
        lines += ["", f"## Ranking at K = {k}", ""]
        lines += [
            f"Each strategy's top-{k} for every user as of the first test day, against the items each",
            "user bought on the test days (users who bought anything; no list: no hits).",
            "`popular/most_popular` ranks the same candidates by 30-day clicks.",
            "",
        ]
        names = ["precision", "recall", "ndcg", "hit_rate", "coverage", "users"]
        lines += _table(["model/strategy", *names], [[key, *[v[n] for n in names]] for key, v in ranking.items()])
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({os.path.basename(path)})" for name, path in files.items()]
    with open(os.path.join(out_dir, "report.md"), "w") as out:
        out.write("\n".join(lines) + "\n")
    storage.write_json(os.path.join(out_dir, "metrics.json"), metrics)
    return [os.path.join(out_dir, "report.md"), os.path.join(out_dir, "metrics.json"), *files.values()]
