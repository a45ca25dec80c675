"""Input fingerprints: what a stage read, so that a dated re-run redoes a stage whose inputs changed."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from mtlrec import schedule
from mtlrec.config import load_config
from mtlrec.run import fingerprint
from mtlrec.run.summary import RunSummary, StageReport

D = dt.date(2026, 11, 5)


def _input(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    for day, text in ((D, "a\n"), (D + dt.timedelta(days=1), "b\n")):
        (raw / f"dt={day}").mkdir(parents=True)
        (raw / f"dt={day}" / "part-0.json").write_text(text)
    (raw / f"dt={D}" / "_SUCCESS").write_text("")
    return raw


def test_a_run_dates_files_fingerprint_changes_with_a_new_resized_or_touched_file_there_only(tmp_path: Path) -> None:
    raw = _input(tmp_path)
    first = fingerprint.input_files(str(raw), [D])
    assert fingerprint.input_files(str(raw), [D]) == first
    (raw / f"dt={D + dt.timedelta(days=1)}" / "late.json").write_text("c\n")  # another date's folder
    (raw / f"dt={D}" / ".part-0.json.crc").write_text("x")  # hidden, as Spark hides it
    assert fingerprint.input_files(str(raw), [D]) == first

    (raw / f"dt={D}" / "late.json").write_text("c\n")
    added = fingerprint.input_files(str(raw), [D])
    (raw / f"dt={D}" / "late.json").write_text("cc\n")
    resized = fingerprint.input_files(str(raw), [D])
    os.utime(raw / f"dt={D}" / "late.json", ns=(0, 10**18))
    touched = fingerprint.input_files(str(raw), [D])
    assert len({first, added, resized, touched}) == 4
    assert fingerprint.run_dates(str(raw)) == [D, D + dt.timedelta(days=1)]


def test_a_completed_stage_is_unchanged_until_a_file_lands_or_a_stage_before_it_records_other_versions(
    tmp_path: Path,
) -> None:
    raw = _input(tmp_path)
    cfg = schedule.dated_config(load_config(None, [f"paths.root={tmp_path}", f"input.path={raw}"]), D)
    summary = RunSummary.new(str(tmp_path), {}, run_id=schedule.run_id(D))
    for stage, version in (("ingest", 3), ("features", 7)):
        summary.record(
            stage,
            1.0,
            StageReport(tables={stage: version}),
            fingerprint=schedule.input_fingerprint(stage, cfg, summary),
        )
    assert schedule.unchanged("ingest", cfg, summary) and schedule.unchanged("features", cfg, summary)
    assert not schedule.unchanged("train", cfg, summary)  # never completed

    summary.record("ingest", 1.0, StageReport(tables={"ingest": 4}), fingerprint=summary.stages["ingest"].fingerprint)
    assert schedule.unchanged("ingest", cfg, summary) and not schedule.unchanged("features", cfg, summary)

    (raw / f"dt={D}" / "late.json").write_text("c\n")
    assert not schedule.unchanged("ingest", cfg, summary)


def test_a_record_without_a_fingerprint_is_never_taken_as_done(tmp_path: Path) -> None:
    cfg = schedule.dated_config(load_config(None, [f"paths.root={tmp_path}"]), D)
    summary = RunSummary.new(str(tmp_path), {}, run_id=schedule.run_id(D))
    summary.record("features", 1.0, StageReport())  # a summary written before fingerprints

    assert not schedule.unchanged("features", cfg, summary)
