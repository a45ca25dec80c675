"""Bad input fails with one line naming the path: never a silent drop, never a bare trace."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from mtlrec.cli import main

LINE = {"event_id": "e1", "ts": "2026-11-01T10:00:00Z", "user_id": "u1", "item_id": "i1", "event_type": "click"}


def ingest(root: Path, capsys: pytest.CaptureFixture[str], *overrides: str) -> str:
    """Run `mtlrec ingest`; return its last line on stderr (it must fail)."""
    sets = [a for o in (f"paths.root={root}", *overrides) for a in ("--set", o)]
    assert main(["ingest", "--conf", "conf/local.yaml", "--new-run", *sets]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("mtlrec: ingest failed: ")
    return last


def day_folder(root: Path, day: str = "2026-11-01") -> Path:
    folder = root / "raw" / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_missing_path(spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = ingest(tmp_path, capsys, f"input.path={tmp_path}/nowhere")

    assert f"{tmp_path}/nowhere does not exist" in message


def test_a_folder_without_dt_folders_and_an_empty_dt_folder(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "raw").mkdir()
    assert f"{tmp_path}/raw has no dt=YYYY-MM-DD folders" in ingest(tmp_path, capsys)

    day_folder(tmp_path)
    assert f"{tmp_path}/raw/dt=2026-11-01 has no data files" in ingest(tmp_path, capsys)


def test_a_date_that_is_not_there(spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (day_folder(tmp_path) / "part-0.json").write_text(json.dumps(LINE) + "\n")

    assert "has no folder for 2026-11-02" in ingest(tmp_path, capsys, "ingest.dates=[2026-11-02]")


def test_a_corrupt_gzip_names_the_file(spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = day_folder(tmp_path)
    (folder / "part-0.json.gz").write_bytes(gzip.compress((json.dumps(LINE) + "\n").encode() * 50)[:40])

    message = ingest(tmp_path, capsys)

    assert f"{folder}/part-0.json.gz" in message and "cannot read" in message


def test_a_file_in_another_format_names_the_file(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = day_folder(tmp_path)
    (folder / "part-0.json").write_text(json.dumps(LINE) + "\n")
    (folder / "part-1.csv").write_text("e2,2026-11-01T10:00:00Z,u1,i1,click,c1,1.0\n" * 3)

    message = ingest(tmp_path, capsys)

    assert f"{folder}/part-1.csv: none of its 3 records is a valid json event (mostly malformed_json)" in message
    assert not (tmp_path / "tables" / "events").exists()  # nothing written


def test_json_read_as_parquet_names_the_file(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = day_folder(tmp_path)
    (folder / "part-0.json").write_text(json.dumps(LINE) + "\n")

    message = ingest(tmp_path, capsys, "input.format=parquet")

    assert f"{folder}/part-0.json" in message
