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


def test_a_changed_setting_or_mapping_runs_its_stage_again_and_the_run_dates_own_keys_do_not(tmp_path: Path) -> None:
    raw = _input(tmp_path)
    base = [f"paths.root={tmp_path}", f"input.path={raw}"]
    summary = RunSummary.new(str(tmp_path), {}, run_id=schedule.run_id(D))

    def record(overrides: list[str]) -> None:
        cfg = load_config(None, [*base, *overrides])
        for stage, version in (("ingest", 3), ("features", 7), ("train", 1)):
            # recorded as a dated run records them: features with the event days it touched
            ran = schedule.dated_config(cfg, D, [D, D + dt.timedelta(days=1)] if stage == "features" else None)
            report = StageReport(tables={stage: version})
            summary.record(stage, 1.0, report, fingerprint=schedule.input_fingerprint(stage, ran, summary))

    def done(overrides: list[str]) -> dict[str, bool]:
        cfg = schedule.dated_config(load_config(None, [*base, *overrides]), D)
        return {stage: schedule.unchanged(stage, cfg, summary) for stage in ("ingest", "features", "train")}

    record([])
    assert done([]) == {"ingest": True, "features": True, "train": True}
    # a setting of one stage: that stage (a dated run then runs every later one again too)
    assert done(["features.attribution_hours=5"]) == {"ingest": True, "features": False, "train": True}
    assert done(["model.embedding_dim=8"]) == {"ingest": True, "features": True, "train": False}
    # the log's mapping is ingest's setting: another one re-reads the files
    assert done(["input.mapping=mtlrec_realistic"]) == {"ingest": False, "features": True, "train": True}
    # where a run's processes go is not a setting of what they compute
    assert done(["spark.shuffle_partitions=9", "ray.num_cpus=1"]) == {"ingest": True, "features": True, "train": True}

    mapping = tmp_path / "mine.yaml"
    mapping.write_text((Path(__file__).parents[2] / "mtlrec/mappings/mtlrec.yaml").read_text())
    record([f"input.mapping={mapping}"])
    assert done([f"input.mapping={mapping}"])["ingest"]
    mapping.write_text(mapping.read_text().replace("key: [event_id]", "key: [event_id, ts]"))  # same name, new content
    assert not done([f"input.mapping={mapping}"])["ingest"]
