from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys
from pathlib import Path

import pytest

from mtlrec.config import Config, ConfigError, config_from_dict, load_config, validate
from mtlrec.features.config import FeaturesConfig
from mtlrec.models import MODELS
from mtlrec.models.config import ModelConfig

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_every_yaml_file_in_conf_loads_into_a_config_with_an_absolute_root() -> None:
    files = sorted(CONF_DIR.glob("*.yaml"))
    assert files, f"no YAML file in {CONF_DIR}"
    for path in files:
        cfg = load_config(path)
        assert isinstance(cfg, Config), path
        root = cfg.paths.root
        assert "://" in root or os.path.isabs(root), (path, root)


def test_unknown_key_fails_naming_the_dotted_key_and_the_file(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "train:\n  epochs: 2\n  epochz: 3\n")

    with pytest.raises(ConfigError) as err:
        load_config(path)

    assert str(path) in str(err.value)
    assert "train.epochz" in str(err.value)


def test_unknown_section_fails_naming_the_section_and_the_file(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "trian:\n  epochs: 2\n")

    with pytest.raises(ConfigError, match="trian") as err:
        load_config(path)

    assert str(path) in str(err.value)


def test_override_of_wrong_type_fails_naming_the_key_and_the_file(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "train:\n  epochs: 2\n")

    with pytest.raises(ConfigError, match=r"train\.epochs") as err:
        load_config(path, ["train.epochs=abc"])

    assert str(path) in str(err.value)


def test_wrong_type_in_file_fails_naming_the_key(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "spark:\n  ui: maybe\n")

    with pytest.raises(ConfigError, match=r"spark\.ui"):
        load_config(path)


def test_overrides_are_parsed_as_yaml_values() -> None:
    cfg = load_config(
        None,
        [
            "train.lr=0.003",
            "train.epochs=7",
            "train.tasks=[click]",
            "train.task_weights=[2]",
            "score.strategies={clicks: {click: 1}}",
            "features.valid_start=2026-11-02",
            "features.test_start=2026-11-04",
            "spark.ui=true",
        ],
    )

    assert cfg.train.lr == 0.003 and type(cfg.train.lr) is float
    assert cfg.train.epochs == 7 and type(cfg.train.epochs) is int
    assert cfg.train.tasks == ("click",)
    assert cfg.train.task_weights == (2.0,) and type(cfg.train.task_weights[0]) is float
    assert cfg.score.strategies == {"clicks": {"click": 1.0}}
    assert cfg.features.valid_start == dt.date(2026, 11, 2)
    assert cfg.spark.ui is True


def test_override_without_section_fails() -> None:
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["epochs=3"])


def test_relative_root_becomes_absolute_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    cfg = load_config(None, ["paths.root=some/data"])

    assert cfg.paths.root == str(tmp_path / "some" / "data")


def test_root_with_a_uri_scheme_is_kept_unchanged() -> None:
    cfg = load_config(None, ["paths.root=s3a://bucket/mtlrec"])

    assert cfg.paths.root == "s3a://bucket/mtlrec"


def test_task_weights_of_wrong_length_fail_naming_the_fields(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "train:\n  tasks: [click, purchase]\n  task_weights: [1.0]\n")

    with pytest.raises(ConfigError, match=r"train\.task_weights") as err:
        load_config(path)

    assert str(path) in str(err.value)


@pytest.mark.parametrize("fixed", [["features.valid_start=2026-11-02"], ["features.test_start=2026-11-02"]])
def test_one_fixed_split_date_without_the_other_fails_naming_both(fixed: list[str]) -> None:
    with pytest.raises(ConfigError, match=r"features\.valid_start and features\.test_start go together"):
        load_config(None, fixed)


def test_splits_roll_with_the_last_event_day_unless_fixed() -> None:
    rolling = FeaturesConfig(valid_days=2, test_days=3)
    # test: the last 3 days (11-08, 11-09, 11-10); valid: the 2 before (11-06, 11-07)
    assert rolling.split_starts(dt.date(2026, 11, 10)) == (dt.date(2026, 11, 6), dt.date(2026, 11, 8))
    assert rolling.split_starts(dt.date(2026, 11, 11)) == (dt.date(2026, 11, 7), dt.date(2026, 11, 9))
    fixed = FeaturesConfig(valid_start=dt.date(2026, 11, 2), test_start=dt.date(2026, 11, 4))
    assert fixed.split_starts(dt.date(2026, 11, 30)) == (dt.date(2026, 11, 2), dt.date(2026, 11, 4))


@pytest.mark.parametrize("valid_start", ["2026-11-07", "2026-11-08"])
def test_valid_start_not_before_test_start_fails(valid_start: str) -> None:
    with pytest.raises(ConfigError, match=r"features\.valid_start"):
        load_config(None, [f"features.valid_start={valid_start}", "features.test_start=2026-11-07"])


def test_strategy_naming_a_task_not_trained_fails() -> None:
    # the default strategies rank by ctcvr, which needs the purchase task
    with pytest.raises(ConfigError, match=r"score\.strategies\.purchases: unknown term 'ctcvr'"):
        load_config(None, ["train.tasks=[click]", "train.task_weights=[1.0]"])


def test_strategy_with_an_unknown_term_fails_naming_strategy_and_term() -> None:
    with pytest.raises(ConfigError, match=r"score\.strategies\.rev: unknown term 'revenue'"):
        load_config(None, ["score.strategies={rev: {ctcvr: 1, revenue: 1}}"])


def test_strategy_over_click_and_item_attributes_is_accepted_for_a_click_model() -> None:
    cfg = load_config(
        None, ["train.tasks=[click]", "train.task_weights=[1.0]", "score.strategies={c: {click: 1, price: 0.5}}"]
    )

    assert cfg.score.strategies == {"c": {"click": 1.0, "price": 0.5}}


def test_unknown_baseline_model_fails() -> None:
    with pytest.raises(ConfigError, match=r"train\.baselines: unknown model 'xgboost'"):
        load_config(None, ["train.baselines=[single_task, xgboost]"])


def test_config_round_trips_through_to_dict(tmp_path: Path) -> None:
    cfg = load_config(
        CONF_DIR / "local.yaml",
        [
            "ingest.dates=[2026-11-01, 2026-11-03]",
            "model.hidden_dims=[32, 8]",
            "spark.conf={spark.x: '1'}",
            "score.strategies={mix: {click: 1.0, purchase: 0.5}}",
        ],
    )

    again = config_from_dict(cfg.to_dict())

    assert again == cfg
    assert again.ingest.dates == (dt.date(2026, 11, 1), dt.date(2026, 11, 3))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_validate_accepts_every_registered_model_name(name: str) -> None:
    cfg = dataclasses.replace(Config(), model=ModelConfig(name=name))

    validate(cfg, source="<test>")


@pytest.mark.parametrize("name", ["dcn", "MMoE", ""])
def test_validate_rejects_a_model_name_not_in_the_registry(name: str) -> None:
    assert name not in MODELS
    cfg = dataclasses.replace(Config(), model=ModelConfig(name=name))

    with pytest.raises(ConfigError, match=r"model\.name") as err:
        validate(cfg, source="<test>")

    for known in MODELS:
        assert known in str(err.value)


def test_mlflow_tracking_without_mlflow_installed_fails_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_config(None).mlflow.tracking_uri == ""  # off by default
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"mlflow.tracking_uri .* pip install 'mtlrec\[mlflow\]'"):
        load_config(None, ["mlflow.tracking_uri=http://mlflow:5000"])


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "nan", "'inf'", "1e999", "1" + "0" * 400])
def test_a_float_key_rejects_nan_and_infinity_naming_the_key_and_the_file(tmp_path: Path, value: str) -> None:
    path = write_yaml(tmp_path, f"ingest:\n  max_price: {value}\n")

    with pytest.raises(ConfigError, match=r"ingest\.max_price must be (a finite number|float)") as err:
        load_config(path)

    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "override",
    [
        "score.batch_size=0",  # Arrow reads 0 rows per batch as no limit at all
        "score.leaderboard_size=0",
        "score.trending_days=-1",
        "spark.shuffle_partitions=0",
        "ray.num_cpus=0",
        "generate.users=0",
        "generate.partitions=-2",
        "features.hot_key_rows=0",
        "model.embedding_dim=0",
        "model.num_experts=0",
        "model.item_buckets=-1",
        "model.tower_dims=[16, 0]",
        "evaluate.auc_bins=0",
        "ingest.max_id_length=0",
        "train.shuffle_buffer=-1",
    ],
)
def test_a_size_or_count_below_its_minimum_fails_naming_the_key(override: str) -> None:
    key = override.partition("=")[0]

    with pytest.raises(ConfigError, match=rf"<defaults>: {key}\b"):
        load_config(None, [override])


def test_a_dedup_lookback_shorter_than_late_days_fails_naming_both_keys() -> None:
    with pytest.raises(ConfigError, match=r"ingest\.dedup_lookback_days \(2\) must be >= ingest\.late_days \(3\)"):
        load_config(None, ["ingest.late_days=3", "ingest.dedup_lookback_days=2"])

    assert load_config(None, ["ingest.late_days=3", "ingest.dedup_lookback_days=3"]).ingest.dedup_lookback_days == 3


@pytest.mark.parametrize("share", ["-0.1", "1.5"])
def test_a_quarantine_share_outside_zero_to_one_fails(share: str) -> None:
    with pytest.raises(ConfigError, match=r"ingest\.max_quarantine_share"):
        load_config(None, [f"ingest.max_quarantine_share={share}"])


def test_select_metric_is_checked_when_the_config_loads_against_validations_names(tmp_path: Path) -> None:
    text = "train:\n  tasks: [click]\n  task_weights: [1]\n  select_metric: valid/purchase_auc\n"
    path = write_yaml(tmp_path, text + "score:\n  strategies: {click: {click: 1}}\n")

    with pytest.raises(ConfigError, match=r"train\.select_metric 'valid/purchase_auc' is none of") as err:
        load_config(path)

    assert str(path) in str(err.value) and "valid/click_auc" in str(err.value)
    assert load_config(path, ["train.select_metric=valid/click_gauc"]).train.select_metric == "valid/click_gauc"


def test_the_built_in_defaults_are_what_conf_local_yaml_spells_out() -> None:
    """`mtlrec run` without --conf and `make demo` (conf/local.yaml) run the same settings."""
    assert load_config(None) == load_config(CONF_DIR / "local.yaml")


def test_every_section_is_validated_by_its_own_checks_before_any_work() -> None:
    with pytest.raises(ConfigError, match=r"<defaults>: export\.format must be one of"):
        load_config(None, ["export.format=pmml"])
    with pytest.raises(ConfigError, match=r"<defaults>: evaluate\.auc_bins must be >= 2"):
        load_config(None, ["evaluate.auc_bins=1"])
