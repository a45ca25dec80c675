"""The command line: bad config fails before any work. (`spark-submit.sh` runs in
tests/test_cluster.py, from a folder other than the repository's.)"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from mtlrec.cli import STAGES, JsonFormatter, main, pipeline
from mtlrec.config import load_config


def test_unknown_config_key_fails_before_any_work_naming_key_and_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "bad.yaml"
    conf.write_text(f"paths:\n  root: {tmp_path}/out\ntrain:\n  epoch: 3\n")
    assert main(["run", "--conf", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "train.epoch" in err and str(conf) in err
    assert not (tmp_path / "out").exists()


def test_wrong_override_type_fails_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ingest", "--set", f"paths.root={tmp_path}", "--set", "train.epochs=many"])
    assert code == 2
    assert "train.epochs" in capsys.readouterr().err


def test_stage_without_its_input_fails_with_one_line_reason(
    spark: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "--set", f"paths.root={tmp_path}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mtlrec: ingest failed:") and f"{tmp_path}/raw" in err[-1]


def test_json_log_format_writes_one_json_object_per_line() -> None:
    record = logging.LogRecord("mtlrec", logging.INFO, __file__, 1, "== %s: done", ("ingest",), None)

    line = JsonFormatter().format(record)

    assert json.loads(line) | {"time": "t"} == {
        "time": "t",
        "level": "INFO",
        "logger": "mtlrec",
        "message": "== ingest: done",
    }


def test_run_generates_logs_only_when_no_input_path_is_configured() -> None:
    assert pipeline(load_config(None))[0] == "generate"
    assert "generate" not in pipeline(load_config(None, ["input.path=/logs"]))
    assert pipeline(load_config(None, ["input.path=/logs"])) == [s for s in STAGES if s != "generate"]
