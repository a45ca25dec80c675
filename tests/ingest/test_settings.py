"""The generate, input and ingest sections: a wrong setting fails before any work."""

from __future__ import annotations

import datetime as dt

import pytest

from mtlrec.config import ConfigError, load_config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("input.format=xml", "input.format must be one of"),
        ("input.separator=;;", "input.separator must be one character"),
        ("generate.format=avro", "generate.format must be one of"),
        ("generate.compression=zip", "generate.compression must be one of"),
        ("generate.dirt.late=1.5", "generate.dirt rates must be in"),
        ("generate.dirt.duplicat=0.1", "unknown key 'generate.dirt.duplicat'"),
        ("ingest.date_range=[2026-11-03, 2026-11-01]", "ingest.date_range must be"),
        ("ingest.late_days=-1", "ingest.late_days must be >= 0"),
    ],
)
def test_a_wrong_setting_fails_naming_it(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("conf/local.yaml", [override])


def test_dates_and_a_date_range_do_not_go_together() -> None:
    with pytest.raises(ConfigError, match="not both"):
        load_config(None, ["ingest.dates=[2026-11-01]", "ingest.date_range=[2026-11-01, 2026-11-02]"])


def test_dirt_rates_are_set_one_by_one() -> None:
    cfg = load_config("conf/local.yaml", ["generate.dirt.bot=0.1", "ingest.date_range=[2026-11-01, 2026-11-03]"])

    assert cfg.generate.dirt.bot == 0.1 and cfg.generate.dirt.late == 0.004
    assert cfg.ingest.date_range == (dt.date(2026, 11, 1), dt.date(2026, 11, 3))
    assert cfg.input.mapping == "mtlrec"
