"""Typed configuration: YAML files loaded into frozen dataclasses.

Every key is checked before any work starts. An unknown key, a missing section or a
value of the wrong type raises `ConfigError` naming the key and the file it came
from. Overrides use the CLI form `--set section.key=value` (the value is parsed as
YAML, so `--set train.lr=0.003` gives a float and `--set train.tasks=[click]` a list).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RayConfig:
    address: str = ""  # empty: start a local Ray on this machine
    # Logical CPUs for a local Ray: train workers hold one each, Ray Data's read
    # tasks need their own, or the pipeline waits forever for a free CPU.
    num_cpus: int = 4


@dataclass(frozen=True)
class GenerateConfig:
    seed: int = 7
    start_date: dt.date = dt.date(2026, 11, 1)
    days: int = 7
    users: int = 4000
    items: int = 1500
    categories: int = 30
    impressions: int = 150_000
    latent_dim: int = 8
    base_ctr: float = 0.08
    base_cvr: float = 0.12
    malformed_rate: float = 0.001
    partitions: int = 4


@dataclass(frozen=True)
class InputConfig:
    """Where the raw logs are and how to read them."""

    path: str = ""  # empty: <root>/raw, where `generate` writes
    format: str = "json"


@dataclass(frozen=True)
class IngestConfig:
    dates: tuple[dt.date, ...] = ()  # empty: every dt= folder present in the input


@dataclass(frozen=True)
class FeaturesConfig:
    valid_start: dt.date = dt.date(2026, 11, 6)
    test_start: dt.date = dt.date(2026, 11, 7)
    click_window_minutes: int = 30
    purchase_window_hours: int = 24
    smoothing: float = 20.0  # pseudo-impressions of the population rate in CTR/CVR


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mmoe"
    embedding_dim: int = 16
    hidden_dims: tuple[int, ...] = (64,)
    num_experts: int = 4
    expert_dims: tuple[int, ...] = (64, 32)
    tower_dims: tuple[int, ...] = (16,)
    dropout: float = 0.1
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
    weight_decay: float = 0.0
    seed: int = 42
    select_metric: str = "valid/mean_auc"


@dataclass(frozen=True)
class EvaluateConfig:
    auc_bins: int = 100_000


@dataclass(frozen=True)
class ScoreConfig:
    top_k: int = 10
    candidates: int = 100  # most popular items scored for every user
    # ranking score = prod_t p_t ** exponent_t, over the tasks named here
    strategy: dict[str, float] = field(default_factory=lambda: {"click": 1.0, "purchase": 1.0})
    batch_size: int = 4096


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
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)

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
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads `1e-3` as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise bad
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


_MODELS = ("shared_bottom", "mmoe")
_FORMATS = ("json",)


def validate(cfg: Config, *, source: str) -> None:
    """Cross-field checks that types alone cannot express."""
    checks: list[tuple[bool, str]] = [
        (cfg.model.name in _MODELS, f"model.name must be one of {_MODELS}, got {cfg.model.name!r}"),
        (cfg.input.format in _FORMATS, f"input.format must be one of {_FORMATS}, got {cfg.input.format!r}"),
        (len(cfg.train.tasks) > 0, "train.tasks must name at least one task"),
        (
            len(cfg.train.task_weights) == len(cfg.train.tasks),
            "train.task_weights must have one weight per task in train.tasks",
        ),
        (set(cfg.train.tasks) <= {"click", "purchase"}, "train.tasks: known tasks are click, purchase"),
        (cfg.train.workers >= 1, "train.workers must be >= 1"),
        (cfg.train.epochs >= 1, "train.epochs must be >= 1"),
        (cfg.train.batch_size >= 1, "train.batch_size must be >= 1"),
        (
            cfg.features.valid_start < cfg.features.test_start,
            "features.valid_start must be before features.test_start",
        ),
        (cfg.generate.days >= 3, "generate.days must be >= 3 (history, train, test)"),
        (0.0 <= cfg.generate.malformed_rate < 1.0, "generate.malformed_rate must be in [0, 1)"),
        (
            set(cfg.score.strategy) <= set(cfg.train.tasks),
            "score.strategy may only name tasks listed in train.tasks",
        ),
        (cfg.score.top_k <= cfg.score.candidates, "score.top_k must be <= score.candidates"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{source}: {message}")


def _plain(value: Any) -> Any:
    """JSON-ready copy: dates as ISO strings, tuples as lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
