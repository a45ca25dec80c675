"""`train` and `tune` settings: tasks, recipe, workers, model selection, search space."""

from __future__ import annotations

from dataclasses import dataclass, field

from mtlrec.checks import at_least

TASKS = ("click", "purchase")  # the labels `samples` carries


@dataclass(frozen=True)
class TrainConfig:
    tasks: tuple[str, ...] = ("click", "purchase")
    task_weights: tuple[float, ...] = (1.0, 1.0)
    workers: int = 2
    epochs: int = 8  # at most: early stopping picks the epoch on valid
    batch_size: int = 1024
    # the long-tail recipe (bench/recipe.py, README "Quality and speed"): Adam at lr 1e-3 with L2
    # added to the gradient of every parameter at every step, tables included; without
    # it the id tables memorise rare ids within one or two epochs
    lr: float = 0.001
    weight_decay: float = 0.0005  # L2 on the dense layers, coupled (Adam's weight_decay)
    # L2 on every row of each id table at every step (coupled, Adam): a row no batch reads
    # shrinks toward 0, a row read often barely (frequency-aware); needs dense table
    # gradients (sparse_embeddings off)
    embedding_decay: float = 0.0005
    embedding_l2: float = 0.0  # L2 in the loss on the embedding rows each batch looks up
    sparse_embeddings: bool = False  # sparse gradients + SparseAdam for embedding tables (ddp)
    task_weighting: str = "fixed"  # fixed (task_weights), uncertainty (Kendall 2018), gradnorm (ddp)
    gradnorm_alpha: float = 1.5
    funnel_penalty: float = 0.0  # AITM calibrator: penalise p(task i) > p(task i-1)
    seed: int = 42
    select_metric: str = "valid/mean_auc"
    select_mode: str = "max"  # max or min of select_metric
    patience: int = 2  # stop after this many epochs without a better select_metric (0: never)
    parallelism: str = "ddp"  # ddp (replicas) or fsdp (parameters sharded across workers)
    use_gpu: bool = False
    max_failures: int = 2  # worker-group restarts from the latest checkpoint before giving up
    shuffle_buffer: int = 8192  # rows each worker shuffles together (files come in a seeded random order; 0: none)
    # down-sampled negatives (features.negative_keep_rate < 1): weight each by 1 / keep-rate
    # in the loss, or train unweighted and correct the probabilities at inference
    reweight_negatives: bool = True
    # models trained after the run's model on the same samples, for `evaluate` to
    # measure the run's model against (skipped when it is the run's model)
    baselines: tuple[str, ...] = ("single_task",)
    # start from the weights of the latest earlier run date's model (dated runs), not at random
    warm_start: bool = False

    def checks(self) -> list[tuple[bool, str]]:
        # the registries import torch and the models, which import this module
        from mtlrec.models.registry import MODELS
        from mtlrec.train.parallel import PARALLELISM
        from mtlrec.train.validation import metric_names
        from mtlrec.train.weighting import TASK_WEIGHTINGS

        unknown = sorted(set(self.baselines) - set(MODELS))
        return [
            (len(self.tasks) > 0, "train.tasks must name at least one task"),
            (set(self.tasks) <= set(TASKS), f"train.tasks: known tasks are {', '.join(TASKS)}"),
            (
                len(self.task_weights) == len(self.tasks),
                "train.task_weights must have one weight per task in train.tasks",
            ),
            *at_least("train", self, ("workers", "epochs", "batch_size")),
            (self.lr > 0.0, "train.lr must be > 0"),
            *at_least(
                "train",
                self,
                ("weight_decay", "embedding_l2", "embedding_decay", "funnel_penalty", "shuffle_buffer"),
                minimum=0,
            ),
            (
                not unknown,
                f"train.baselines: unknown model {unknown[0] if unknown else ''!r} (known: {sorted(MODELS)})",
            ),
            (
                self.parallelism in PARALLELISM,
                f"train.parallelism must be one of {sorted(PARALLELISM)}, got {self.parallelism!r}",
            ),
            (
                self.task_weighting in TASK_WEIGHTINGS,
                f"train.task_weighting must be one of {sorted(TASK_WEIGHTINGS)}, got {self.task_weighting!r}",
            ),
            (
                self.embedding_decay == 0 or not self.sparse_embeddings,
                "train.embedding_decay (default 0.0005) needs dense table gradients: set train.sparse_embeddings: "
                "false, or train.embedding_decay: 0 with sparse tables (e.g. train.embedding_l2 instead)",
            ),
            # FSDP frees each module's gathered weights as soon as backward passes it, so
            # neither a sparse gradient nor GradNorm's extra per-task backward can run there
            (
                self.parallelism == "ddp" or not self.sparse_embeddings,
                "train.sparse_embeddings needs train.parallelism: ddp",
            ),
            (
                self.parallelism == "ddp" or self.task_weighting != "gradnorm",
                "train.task_weighting: gradnorm needs train.parallelism: ddp",
            ),
            (self.select_mode in ("max", "min"), f"train.select_mode must be max or min, got {self.select_mode!r}"),
            (
                self.select_metric in metric_names(self.tasks),
                f"train.select_metric {self.select_metric!r} is none of the metrics validation reports: "
                f"{metric_names(self.tasks)}",
            ),
            (self.patience >= 0 and self.max_failures >= 0, "train.patience and train.max_failures must be >= 0"),
        ]


@dataclass(frozen=True)
class TuneConfig:
    """`mtlrec tune`: trials of the train stage over `space` (override key -> values)."""

    method: str = "grid"  # random (`samples` draws) or grid (every combination, `samples` times)
    samples: int = 1
    max_concurrent: int = 1
    space: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"train.lr": ("0.001", "0.003"), "train.embedding_decay": ("0.0005", "0.001")}
    )  # e.g. train.lr: [0.003, 0.01]

    def checks(self) -> list[tuple[bool, str]]:
        return [
            (self.method in ("random", "grid"), f"tune.method must be random or grid, got {self.method!r}"),
            (self.samples >= 1 and self.max_concurrent >= 1, "tune.samples and tune.max_concurrent must be >= 1"),
        ]
