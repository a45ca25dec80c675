"""The command line: bad config fails before any work; spark-submit.sh runs a stage."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import deltalake
import pytest

from mtlrec.cli import STAGES, JsonFormatter, main, pipeline
from mtlrec.config import load_config

REPO = Path(__file__).resolve().parents[1]


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


@pytest.mark.slow
def test_spark_submit_script_runs_a_stage_in_local_mode(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        [
            "bash",
            str(REPO / "spark-submit.sh"),
            "generate",
            "--conf",
            str(REPO / "conf/local.yaml"),
            "--set",
            f"paths.root={tmp_path}",
            "--set",
            "generate.events=3000",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "raw").glob("dt=*")) == [f"dt=2026-11-0{d}" for d in range(1, 8)]
    # one truth row per impression; the funnel makes ~3000 events of them
    assert 2000 < deltalake.DeltaTable(str(tmp_path / "tables" / "truth")).to_pyarrow_table().num_rows < 3000


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
