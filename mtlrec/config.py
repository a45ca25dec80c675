"""Typed configuration: YAML files loaded into frozen dataclasses.

Every key is checked before any work starts. An unknown key, a missing section or a
value of the wrong type raises `ConfigError` naming the key and the file it came
from. Overrides use the CLI form `--set section.key=value` (the value is parsed as
YAML, so `--set train.lr=0.003` gives a float and `--set train.tasks=[click]` a list).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mtlrec.storage import absolute


class ConfigError(ValueError):
    """A configuration file or override that cannot be used."""


@dataclass(frozen=True)
class PathsConfig:
    root: str = "data"


@dataclass(frozen=True)
class SparkConfig:
    master: str = "local[2]"
    app_name: str = "mtlrec"
    shuffle_partitions: int = 4
    driver_memory: str = "4g"
    ui: bool = False
    progress: bool = True  # Spark's console progress bar of running stages (on stderr)
    event_log_dir: str = ""  # set: Spark event logs go there, for the history server
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RayConfig:
    address: str = ""  # empty: start a local Ray on this machine
    # Logical CPUs for a local Ray: train workers hold one each, Ray Data's read
    # tasks need their own, or the pipeline waits forever for a free CPU.
    num_cpus: int = 4


@dataclass(frozen=True)
class DirtConfig:
    """How much dirt `generate` plants, each kind as a fraction of the events.

    Every kind has its own rate so a test can plant exactly what it checks. Line-level
    kinds (truncated, wrong_type, non_utf8, empty_line) do not exist in Parquet.
    """

    duplicate: float = 0.004  # the same line sent again (same or next dt folder)
    late: float = 0.004  # written into a dt folder 1-2 days after its timestamp
    bot: float = 0.003  # lines from bot users, in bursts of 120 events a minute
    truncated: float = 0.0003
    wrong_type: float = 0.0003  # price "n/a"
    missing_event_id: float = 0.0003
    missing_user_id: float = 0.0003
    missing_item_id: float = 0.0003
    unknown_event_type: float = 0.0003
    negative_price: float = 0.0003
    absurd_price: float = 0.0003
    ts_far_past: float = 0.0003
    ts_far_future: float = 0.0003
    non_utf8: float = 0.0003
    empty_line: float = 0.0003


@dataclass(frozen=True)
class GenerateConfig:
    seed: int = 7
    start_date: dt.date = dt.date(2026, 11, 1)
    days: int = 7
    users: int = 4000
    items: int = 1500
    categories: int = 30
    events: int = 200_000  # about this many events (the funnel is random); re-sent lines and bots on top
    session_length: float = 8.0  # mean impressions per session
    latent_dim: int = 8
    base_ctr: float = 0.08
    base_cvr: float = 0.12
    bot_users: int = 2
    format: str = "json"  # json (lines), csv (no header) or parquet
    compression: str = "gzip"  # gzip, bzip2 or none (json and csv)
    partitions: int = 4
    dirt: DirtConfig = field(default_factory=DirtConfig)


@dataclass(frozen=True)
class InputConfig:
    """Where the raw logs are and how to read them."""

    path: str = ""  # empty: <root>/raw, where `generate` writes; any Hadoop URI
    format: str = "json"  # json (lines), csv or parquet; .gz/.bz2 files are decompressed
    mapping: str = "mtlrec"  # conf/mappings/<name>.yaml, or a path to a mapping file
    header: bool = False  # csv: the first line of every file names the columns
    separator: str = ","  # csv


@dataclass(frozen=True)
class IngestConfig:
    dates: tuple[dt.date, ...] = ()  # run dates (dt= folders); empty: every folder present
    date_range: tuple[dt.date, ...] = ()  # [first, last]: every folder in between, inclusive
    late_days: int = 3  # events up to this many days older than their folder are kept (late)
    clock_skew_minutes: int = 10  # events this far past the folder's day are still kept
    dedup_lookback_days: int = 7  # event ids already in `events` this many days back are duplicates
    bot_events_per_minute: int = 60  # a user above this in any minute of a folder is a bot
    max_price: float = 100_000.0
    max_id_length: int = 256  # a longer id (user, item, event, category) is quarantined as id_too_long
    # quarantined / read above this fails the run date before anything is written (1.0: off)
    max_quarantine_share: float = 1.0


@dataclass(frozen=True)
class FeaturesConfig:
    valid_start: dt.date = dt.date(2026, 11, 6)
    test_start: dt.date = dt.date(2026, 11, 7)
    click_window_minutes: int = 30
    attribution_hours: int = 24  # a cart or purchase counts for the click it follows within this
    open_windows: str = "exclude"  # exposures whose windows are open at the run date: exclude or flag
    point_in_time: str = "day"  # features as of the exposure's day, or "timestamp" (as-of its ts)
    smoothing: float = 20.0  # pseudo-impressions of the population rate in CTR/CVR
    sequence_length: int = 10  # last N clicked items per user
    dates: tuple[dt.date, ...] = ()  # days to (re)build; empty: the days of events not built yet
    rebuild: bool = False  # rebuild every table from all events
    exposures: str = "auto"  # impressions, sampled (negative sampling), auto: sampled if no impressions
    negative_ratio: int = 4  # sampled negatives per click, in `sampled` mode
    negative_keep_rate: float = 1.0  # share of non-clicked train exposures kept (weight 1 / rate)
    seed: int = 11
    vocab_min_count: int = 2  # events an id needs in the train days to get its own index
    salt_buckets: int = 8  # hot (user, dt) keys spread over this many join partitions (1: off)
    hot_key_rows: int = 10_000  # exposures of one key that make it hot
    broadcast_item_rows: int = 5_000_000  # item feature rows up to which their join is broadcast
    leakage_max_auc: float = 0.98  # a single feature with AUC above this against a label leaks
    leakage_fail: bool = True  # false: log the leak as a warning instead of stopping
    leakage_sample: float = 0.5  # share of the train split the guard scores
    leakage_min_class: int = 50  # fewer positives or negatives than this: no verdict


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mmoe"  # single_task, shared_bottom, mmoe, ple, esmm, aitm
    embedding_dim: int = 16
    hidden_dims: tuple[int, ...] = (64,)  # bottom MLP (shared_bottom, esmm, aitm), per-task MLP (single_task)
    num_experts: int = 4  # shared experts (mmoe, ple)
    specific_experts: int = 1  # per-task experts in each PLE level
    ple_levels: int = 2  # PLE extraction levels
    expert_dims: tuple[int, ...] = (64, 32)
    tower_dims: tuple[int, ...] = (16,)
    dropout: float = 0.1
    # pairwise dot products of the id embeddings, into the MLP input and, by a linear
    # term per task, straight into each logit (DeepFM): preference is a user-item inner
    # product, which an MLP on concatenated embeddings learns slowly
    dot_interaction: bool = True
    embedding_max_rows: int = 0  # cap on rows per table (0: one row per bucket)
    embedding_overflow_rows: int = 64  # hashed rows for indexes beyond the table
    user_buckets: int = 8192
    item_buckets: int = 4096
    category_buckets: int = 128


@dataclass(frozen=True)
class TrainConfig:
    tasks: tuple[str, ...] = ("click", "purchase")
    task_weights: tuple[float, ...] = (1.0, 1.0)
    workers: int = 2
    epochs: int = 4
    batch_size: int = 1024
    lr: float = 0.01
    weight_decay: float = 0.0  # decoupled (AdamW), dense parameters only
    embedding_l2: float = 0.0  # L2 on the embedding rows each batch looks up
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


@dataclass(frozen=True)
class TuneConfig:
    """`mtlrec tune`: trials of the train stage over `space` (override key -> values)."""

    method: str = "random"  # random (`samples` draws) or grid (every combination, `samples` times)
    samples: int = 4
    max_concurrent: int = 1
    space: dict[str, tuple[str, ...]] = field(default_factory=dict)  # e.g. train.lr: [0.003, 0.01]


@dataclass(frozen=True)
class EvaluateConfig:
    auc_bins: int = 100_000
    # precision, recall and F1 of `p >= threshold`, per task (tasks not trained are ignored)
    thresholds: dict[str, float] = field(default_factory=lambda: {"click": 0.2, "purchase": 0.02})
    # ranking metrics: each strategy's top-K for every test user as of the first test
    # day, against the items each bought during the test days
    ranking_k: int = 10


# the terms a strategy may raise to a power: task probabilities, their ESMM products
# and ratios, and item attributes
PROBABILITY_TERMS = ("click", "purchase", "ctcvr", "cvr")
ITEM_TERMS = ("price", "popularity")


@dataclass(frozen=True)
class ScoreConfig:
    top_k: int = 10
    # candidates per user: the whole catalogue when it has at most `catalogue_max`
    # items, else the union of the `popular` most-clicked items, the `category_popular`
    # most-clicked of each of the user's `top_categories` categories, and the items the
    # user clicked in the last `viewed_days` days but did not buy
    catalogue_max: int = 300
    popular: int = 100
    category_popular: int = 20
    top_categories: int = 3
    viewed_days: int = 7
    exclude_purchased: bool = True  # never recommend an item the user already bought
    category_cap: int = 0  # at most this many items of one category in a top-K (0: no cap)
    # named ranking strategies, each scored and written side by side (`strategy` column):
    # score = prod over terms of term ** exponent; terms are p_click, p_purchase,
    # p_ctcvr (= p_purchase: purchase is labelled over all exposures), p_cvr
    # (= p_purchase / p_click), and the item's price and popularity (30-day clicks + 1)
    strategies: dict[str, dict[str, float]] = field(
        default_factory=lambda: {"ctcvr": {"ctcvr": 1.0}, "click": {"click": 1.0}}
    )
    leaderboard_size: int = 50  # items per leaderboard (and per category)
    trending_days: int = 7  # trending: purchases in the last N days against the N before
    batch_size: int = 4096  # rows per Arrow batch into the model


@dataclass(frozen=True)
class MlflowConfig:
    """Optional MLflow tracking of each training run (`pip install 'mtlrec[mlflow]'`)."""

    tracking_uri: str = ""  # empty: off; e.g. http://mlflow:5000 or databricks
    experiment: str = "mtlrec"


@dataclass(frozen=True)
class Config:
    paths: PathsConfig = field(default_factory=PathsConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    input: InputConfig = field(default_factory=InputConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Load `path` (YAML), apply `section.key=value` overrides, validate everything."""
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise ConfigError(f"cannot read config file {source}: {err.strerror}") from err
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{source}: not valid YAML: {err}") from err
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: top level must be a mapping of sections")
    for item in overrides:
        _apply_override(raw, item)
    cfg = from_dict(Config, raw, source=source)
    validate(cfg, source=source)
    # a relative root means the working directory of the command, once and for all:
    # Ray workers and Spark executors may run elsewhere
    return dataclasses.replace(cfg, paths=PathsConfig(root=absolute(cfg.paths.root)))


def config_from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> Config:
    """Rebuild a Config from `Config.to_dict()` output (e.g. a model's metadata)."""
    cfg = from_dict(Config, dict(raw), source=source)
    validate(cfg, source=source)
    return cfg


def with_overrides(cfg: Config, overrides: Sequence[str], source: str = "<overrides>") -> Config:
    """`cfg` with `section.key=value` overrides applied (e.g. one trial of `mtlrec tune`)."""
    raw = cfg.to_dict()
    for item in overrides:
        _apply_override(raw, item)
    return config_from_dict(raw, source=source)


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, value = item.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    node = raw
    *parents, leaf = key.strip().split(".")
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {item!r}: {part!r} is not a section")
        node = child
    node[leaf] = yaml.safe_load(value) if value.strip() else ""


def from_dict(cls: type, raw: Mapping[str, Any], *, source: str, prefix: str = "") -> Any:
    """Build dataclass `cls` from `raw`, rejecting unknown keys and wrong types."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"{source}: unknown key {prefix + unknown[0]!r} (allowed: {', '.join(sorted(names))})")
    values = {name: _coerce(hints[name], value, source=source, key=f"{prefix}{name}") for name, value in raw.items()}
    return cls(**values)


def _coerce(tp: Any, value: Any, *, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, source=source, prefix=f"{key}.")  # type: ignore[arg-type]
    if origin is tuple:
        (inner, _) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(_coerce(inner, v, source=source, key=f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        ktp, vtp = typing.get_args(tp)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {key} must be a mapping, got {value!r}")
        return {
            _coerce(ktp, k, source=source, key=key): _coerce(vtp, v, source=source, key=f"{key}.{k}")
            for k, v in value.items()
        }
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{source}: {key}: unions are not supported in config")
    return _coerce_scalar(tp, value, source=source, key=key)


def _coerce_scalar(tp: Any, value: Any, *, source: str, key: str) -> Any:
    bad = ConfigError(f"{source}: {key} must be {tp.__name__}, got {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise bad
        try:
            number = float(value)  # YAML 1.1 reads `1e-3` as a string
        except (ValueError, OverflowError):  # not a number; an integer beyond a double
            raise bad from None
        if not math.isfinite(number):  # .nan, .inf, "nan", "inf", 1e999
            raise ConfigError(f"{source}: {key} must be a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad
    if tp is dt.date:
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ConfigError(f"{source}: {key} must be a date YYYY-MM-DD, got {value!r}")
    raise ConfigError(f"{source}: {key}: unsupported type {tp!r}")


_MODELS = ("single_task", "shared_bottom", "mmoe", "ple", "esmm", "aitm")
_PARALLELISM = ("ddp", "fsdp")
_TASK_WEIGHTING = ("fixed", "uncertainty", "gradnorm")
_FORMATS = ("json", "csv", "parquet")
_COMPRESSIONS = ("gzip", "bzip2", "none")


def validate(cfg: Config, *, source: str) -> None:
    """Cross-field checks that types alone cannot express."""
    checks: list[tuple[bool, str]] = [
        (cfg.model.name in _MODELS, f"model.name must be one of {_MODELS}, got {cfg.model.name!r}"),
        (len(cfg.train.tasks) > 0, "train.tasks must name at least one task"),
        (
            len(cfg.train.task_weights) == len(cfg.train.tasks),
            "train.task_weights must have one weight per task in train.tasks",
        ),
        (set(cfg.train.tasks) <= {"click", "purchase"}, "train.tasks: known tasks are click, purchase"),
        (cfg.train.workers >= 1, "train.workers must be >= 1"),
        (cfg.train.epochs >= 1, "train.epochs must be >= 1"),
        (cfg.train.batch_size >= 1, "train.batch_size must be >= 1"),
        *_train_checks(cfg.train),
        (cfg.tune.method in ("random", "grid"), f"tune.method must be random or grid, got {cfg.tune.method!r}"),
        (cfg.tune.samples >= 1 and cfg.tune.max_concurrent >= 1, "tune.samples and tune.max_concurrent must be >= 1"),
        *_features_checks(cfg.features),
        *_generate_checks(cfg.generate),
        *_ingest_checks(cfg.input, cfg.ingest),
        *_score_checks(cfg.score, cfg.train.tasks),
        (
            cfg.train.reweight_negatives or cfg.features.negative_keep_rate >= 1.0 or "click" in cfg.train.tasks,
            "train.reweight_negatives: false needs the click task, to correct for features.negative_keep_rate",
        ),
        (cfg.evaluate.ranking_k >= 1, "evaluate.ranking_k must be >= 1"),
        (cfg.evaluate.auc_bins >= 1, "evaluate.auc_bins must be >= 1"),
        *_runtime_checks(cfg.spark, cfg.ray),
        *_model_checks(cfg.model),
        (
            not cfg.mlflow.tracking_uri or importlib.util.find_spec("mlflow") is not None,
            "mlflow.tracking_uri is set but MLflow is not installed: pip install 'mtlrec[mlflow]'",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{source}: {message}")


def _score_checks(sc: ScoreConfig, tasks: tuple[str, ...]) -> list[tuple[bool, str]]:
    derived = ("ctcvr", "cvr") if {"click", "purchase"} <= set(tasks) else ()
    allowed = (*tasks, *derived, *ITEM_TERMS)
    checks = [
        (len(sc.strategies) > 0, "score.strategies must name at least one strategy"),
        (sc.top_k >= 1, "score.top_k must be >= 1"),
        (sc.category_cap >= 0, "score.category_cap must be >= 0 (0: no cap)"),
        (
            min(sc.catalogue_max, sc.popular, sc.category_popular, sc.top_categories, sc.viewed_days) >= 0,
            "score.catalogue_max, popular, category_popular, top_categories and viewed_days must be >= 0",
        ),
        (sc.batch_size >= 1, "score.batch_size must be >= 1"),
        (sc.leaderboard_size >= 1, "score.leaderboard_size must be >= 1"),
        (sc.trending_days >= 1, "score.trending_days must be >= 1"),
    ]
    for name, terms in sc.strategies.items():
        unknown = sorted(set(terms) - set(allowed))
        checks.append(
            (
                not unknown,
                f"score.strategies.{name}: unknown term {unknown[0] if unknown else ''!r} "
                f"(allowed with train.tasks {list(tasks)}: {', '.join(allowed)})",
            )
        )
        checks.append((len(terms) > 0, f"score.strategies.{name} must name at least one term"))
    return checks


def _generate_checks(gc: GenerateConfig) -> list[tuple[bool, str]]:
    rates = dataclasses.asdict(gc.dirt)
    per_event = sum(v for k, v in rates.items() if k != "bot")
    return [
        (gc.days >= 3, "generate.days must be >= 3 (history, train, test)"),
        (gc.events >= 100, "generate.events must be >= 100"),
        (gc.format in _FORMATS, f"generate.format must be one of {_FORMATS}, got {gc.format!r}"),
        (gc.compression in _COMPRESSIONS, f"generate.compression must be one of {_COMPRESSIONS}"),
        (gc.session_length >= 1.0, "generate.session_length must be >= 1"),
        (all(0.0 <= v < 1.0 for v in rates.values()), "generate.dirt rates must be in [0, 1)"),
        (per_event <= 0.5, "generate.dirt rates other than bot must sum to at most 0.5"),
        (gc.bot_users >= 1 or rates["bot"] == 0.0, "generate.dirt.bot needs generate.bot_users >= 1"),
        *_at_least_one("generate", gc, ("users", "items", "categories", "latent_dim", "partitions")),
        (gc.bot_users >= 0, "generate.bot_users must be >= 0"),
    ]


def _ingest_checks(ic: InputConfig, gc: IngestConfig) -> list[tuple[bool, str]]:
    return [
        (ic.format in _FORMATS, f"input.format must be one of {_FORMATS}, got {ic.format!r}"),
        (len(ic.separator) == 1, f"input.separator must be one character, got {ic.separator!r}"),
        (ic.mapping != "", "input.mapping must name a mapping"),
        (
            len(gc.date_range) in (0, 2) and list(gc.date_range) == sorted(gc.date_range),
            "ingest.date_range must be [first, last] with first <= last",
        ),
        (not (gc.dates and gc.date_range), "give ingest.dates or ingest.date_range, not both"),
        (min(gc.late_days, gc.clock_skew_minutes, gc.dedup_lookback_days) >= 0, "ingest windows must be >= 0"),
        (gc.bot_events_per_minute >= 1, "ingest.bot_events_per_minute must be >= 1"),
        (gc.max_price > 0.0, "ingest.max_price must be > 0"),
        # a late event re-sent in a later folder must still find its stored copy
        (
            gc.dedup_lookback_days >= gc.late_days,
            f"ingest.dedup_lookback_days ({gc.dedup_lookback_days}) must be >= ingest.late_days ({gc.late_days}),"
            " or re-sent late events are stored twice",
        ),
        (gc.max_id_length >= 1, "ingest.max_id_length must be >= 1"),
        (
            0.0 <= gc.max_quarantine_share <= 1.0,
            "ingest.max_quarantine_share must be in [0, 1] (1: off)",
        ),
    ]


def _features_checks(fc: FeaturesConfig) -> list[tuple[bool, str]]:
    return [
        (fc.valid_start < fc.test_start, "features.valid_start must be before features.test_start"),
        (
            fc.open_windows in ("exclude", "flag"),
            f"features.open_windows must be exclude or flag, got {fc.open_windows!r}",
        ),
        (
            fc.point_in_time in ("day", "timestamp"),
            f"features.point_in_time must be day or timestamp, got {fc.point_in_time!r}",
        ),
        (
            fc.exposures in ("auto", "impressions", "sampled"),
            f"features.exposures must be auto, impressions or sampled, got {fc.exposures!r}",
        ),
        (0.0 < fc.negative_keep_rate <= 1.0, "features.negative_keep_rate must be in (0, 1]"),
        (0.0 < fc.leakage_sample <= 1.0, "features.leakage_sample must be in (0, 1]"),
        (
            min(fc.negative_ratio, fc.sequence_length, fc.vocab_min_count, fc.salt_buckets) >= 1,
            "features.negative_ratio, sequence_length, vocab_min_count and salt_buckets must be >= 1",
        ),
        (fc.click_window_minutes >= 0 and fc.attribution_hours >= 0, "features windows must be >= 0"),
        *_at_least_one("features", fc, ("hot_key_rows", "leakage_min_class")),
        (fc.broadcast_item_rows >= 0, "features.broadcast_item_rows must be >= 0 (0: never broadcast)"),
    ]


def _train_checks(tc: TrainConfig) -> list[tuple[bool, str]]:
    # the names training reports, from where it reports them (imported here: it loads torch)
    from mtlrec.train.validation import metric_names

    metrics = metric_names(tc.tasks)
    unknown = sorted(set(tc.baselines) - set(_MODELS))
    return [
        (not unknown, f"train.baselines: unknown model {unknown[0] if unknown else ''!r} (known: {_MODELS})"),
        (tc.parallelism in _PARALLELISM, f"train.parallelism must be one of {_PARALLELISM}, got {tc.parallelism!r}"),
        (
            tc.task_weighting in _TASK_WEIGHTING,
            f"train.task_weighting must be one of {_TASK_WEIGHTING}, got {tc.task_weighting!r}",
        ),
        # FSDP frees each module's gathered weights as soon as backward passes it, so
        # neither a sparse gradient nor GradNorm's extra per-task backward can run there
        (
            tc.parallelism == "ddp" or not tc.sparse_embeddings,
            "train.sparse_embeddings needs train.parallelism: ddp",
        ),
        (
            tc.parallelism == "ddp" or tc.task_weighting != "gradnorm",
            "train.task_weighting: gradnorm needs train.parallelism: ddp",
        ),
        (tc.select_mode in ("max", "min"), f"train.select_mode must be max or min, got {tc.select_mode!r}"),
        (tc.patience >= 0 and tc.max_failures >= 0, "train.patience and train.max_failures must be >= 0"),
        (tc.shuffle_buffer >= 0, "train.shuffle_buffer must be >= 0 (0: no shuffle)"),
        (
            tc.select_metric in metrics,
            f"train.select_metric {tc.select_metric!r} is none of the metrics validation reports: {metrics}",
        ),
    ]


def _model_checks(mc: ModelConfig) -> list[tuple[bool, str]]:
    counts = ("embedding_dim", "num_experts", "specific_experts", "ple_levels")
    return [
        *_at_least_one("model", mc, (*counts, "user_buckets", "item_buckets", "category_buckets")),
        (mc.embedding_max_rows >= 0, "model.embedding_max_rows must be >= 0 (0: no cap)"),
        (mc.embedding_overflow_rows >= 0, "model.embedding_overflow_rows must be >= 0"),
        (len(mc.expert_dims) > 0, "model.expert_dims must name at least one layer"),
        *[
            (min(getattr(mc, name), default=1) >= 1, f"model.{name}: every layer size must be >= 1")
            for name in ("hidden_dims", "expert_dims", "tower_dims")
        ],
        (0.0 <= mc.dropout < 1.0, "model.dropout must be in [0, 1)"),
    ]


def _runtime_checks(sc: SparkConfig, rc: RayConfig) -> list[tuple[bool, str]]:
    return [
        (sc.shuffle_partitions >= 1, "spark.shuffle_partitions must be >= 1"),
        (rc.num_cpus >= 1, "ray.num_cpus must be >= 1"),
    ]


def _at_least_one(section: str, values: Any, names: Sequence[str]) -> list[tuple[bool, str]]:
    """A check per size or count in `names` of a section: each must be >= 1."""
    return [(getattr(values, name) >= 1, f"{section}.{name} must be >= 1") for name in names]


def _plain(value: Any) -> Any:
    """JSON-ready copy: dates as ISO strings, tuples as lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
