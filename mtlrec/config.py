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

from mtlrec.evaluation.config import EvaluateConfig
from mtlrec.export.config import ExportConfig
from mtlrec.features.config import FeaturesConfig
from mtlrec.generate.config import GenerateConfig
from mtlrec.ingest.config import IngestConfig, InputConfig
from mtlrec.models.config import ModelConfig
from mtlrec.serving.config import ScoreConfig
from mtlrec.storage import absolute
from mtlrec.train.config import TrainConfig, TuneConfig


class ConfigError(ValueError):
    """A configuration file or override that cannot be used."""


@dataclass(frozen=True)
class PathsConfig:
    root: str = "data"


SPARK_CONF = {
    # the Delta log of a small table needs few partitions to replay
    "spark.databricks.delta.snapshotPartitions": "2",
    # Spark sizes its memory pages from the heap: 64 MB on a 4g driver. Every broadcast
    # hash join on a string key (user and item ids) holds at least one page for as long
    # as its plan lives, even for a table of 100 rows: in the test suite's one session
    # (every stage, many times) such pages held 1.2 of the 4 GB heap and once ran it out.
    # A larger table takes more pages.
    "spark.buffer.pageSize": "4m",
}


@dataclass(frozen=True)
class SparkConfig:
    master: str = "local[2]"
    app_name: str = "mtlrec"
    shuffle_partitions: int = 4
    driver_memory: str = "4g"
    ui: bool = False
    progress: bool = True  # Spark's console progress bar of running stages (on stderr)
    event_log_dir: str = ""  # set: Spark event logs go there, for the history server
    conf: dict[str, str] = field(default_factory=lambda: dict(SPARK_CONF))


@dataclass(frozen=True)
class RayConfig:
    address: str = ""  # empty: start a local Ray on this machine
    # Logical CPUs for a local Ray: train workers hold one each, Ray Data's read
    # tasks need their own, or the pipeline waits forever for a free CPU.
    num_cpus: int = 4


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
    export: ExportConfig = field(default_factory=ExportConfig)
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
    if tp is Any:  # checked by its owner (e.g. a mapping's serving values)
        return value
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
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:  # `X | None`: null, or an X
            return None if value is None else _coerce(options[0], value, source=source, key=key)
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


Check = tuple[bool, str]  # (holds, message naming the key)


def validate(cfg: Config, *, source: str) -> None:
    """Each section's own checks, then the ones that span sections."""
    checks: list[Check] = [
        *cfg.generate.checks(),
        *cfg.input.checks(),
        *cfg.ingest.checks(),
        *cfg.features.checks(),
        *cfg.model.checks(),
        *cfg.train.checks(),
        *cfg.tune.checks(),
        *cfg.evaluate.checks(),
        *cfg.score.checks(cfg.train.tasks),
        *cfg.export.checks(),
        (cfg.spark.shuffle_partitions >= 1, "spark.shuffle_partitions must be >= 1"),
        (cfg.ray.num_cpus >= 1, "ray.num_cpus must be >= 1"),
        (
            cfg.train.reweight_negatives or cfg.features.negative_keep_rate >= 1.0 or "click" in cfg.train.tasks,
            "train.reweight_negatives: false needs the click task, to correct for features.negative_keep_rate",
        ),
        (
            not cfg.mlflow.tracking_uri or importlib.util.find_spec("mlflow") is not None,
            "mlflow.tracking_uri is set but MLflow is not installed: pip install 'mtlrec[mlflow]'",
        ),
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
