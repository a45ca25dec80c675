"""The run floor: a data root's paths, the typed run summary, safe run ids and redaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtlrec.cli import main
from mtlrec.run import paths
from mtlrec.run.metrics import FeaturesMetrics, SplitMetrics
from mtlrec.run.summary import RunSummary, StageReport, redacted


@pytest.mark.parametrize("run_id", ["../..", "a/b", "..", "", "x" * 65, "a\\b", ".hidden", "ok..no"])
def test_a_run_id_that_could_leave_the_data_root_is_refused(run_id: str) -> None:
    with pytest.raises(ValueError, match="run id"):
        paths.summary("/data", run_id)
    if run_id:  # an empty one means "a new run id"
        with pytest.raises(ValueError, match="run id"):
            RunSummary.new("/data", {}, run_id=run_id)


def test_the_cli_refuses_an_unsafe_run_id_before_any_work(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["features", "--run-id", "../.."])

    assert exit_info.value.code == 2 and "run id '../..' is not allowed" in capsys.readouterr().err


def test_secrets_and_uri_credentials_are_redacted_from_what_is_written() -> None:
    config = {
        "spark": {"conf": {"spark.hadoop.fs.s3a.secret.key": "abc", "spark.hadoop.fs.s3a.access.key": "AKIA"}},
        "mlflow": {"tracking_uri": "https://alice:hunter2@mlflow.example:5000", "experiment": "mtlrec"},
        "paths": {"root": "s3a://bucket/mtlrec"},
        "tokens": ["plain"],
        "db_password": "pw",
    }

    out = redacted(config)

    assert out["spark"]["conf"] == {"spark.hadoop.fs.s3a.secret.key": "***", "spark.hadoop.fs.s3a.access.key": "***"}
    assert out["mlflow"]["tracking_uri"] == "https://***@mlflow.example:5000"
    assert out["paths"]["root"] == "s3a://bucket/mtlrec" and out["db_password"] == "***"
    assert out["tokens"] == ["***"]


def test_a_summary_round_trips_and_is_written_whole(tmp_path: Path) -> None:
    summary = RunSummary.new(str(tmp_path), {"mlflow": {"tracking_uri": "http://u:p@h"}}, run_id="r1")
    features = FeaturesMetrics(samples={"train": SplitMetrics(rows=4, weight=6.5, rates={"click_rate": 0.25})})
    summary.record("features", 1.234, StageReport(rows_in=5, tables={"samples": 3}, metrics=features))
    summary.save()

    loaded = RunSummary.load(str(tmp_path), "r1")

    assert loaded == summary
    assert FeaturesMetrics.read_from(loaded.metrics) == features  # the stage's dataclass, back from the JSON
    assert loaded.table("samples").path == paths.table(str(tmp_path), "samples") and loaded.split_rows() == {"train": 4}
    assert (
        json.loads((tmp_path / "runs" / "latest.json").read_text())["config"]["mlflow"]["tracking_uri"]
        == "http://***@h"
    )
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["latest.json", "r1.json"]  # no temporary file


def test_a_truncated_summary_fails_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "r2.json").write_text('{"run_id": "r2", "stag')

    with pytest.raises(ValueError, match=r"r2\.json is not valid JSON"):
        RunSummary.load(str(tmp_path), "r2")
