"""Scheduled runs: which days a run date touches, what it may run, which model it warms from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mtlrec import schedule
from mtlrec.cli import main
from mtlrec.config import load_config
from mtlrec.run import paths
from mtlrec.run.metrics import FeaturesMetrics, SplitMetrics
from mtlrec.run.summary import RunSummary, StageReport, previous_model

D = dt.date(2026, 11, 5)


def test_a_run_date_reads_its_folder_and_rebuilds_the_days_its_late_events_can_reach() -> None:
    cfg = load_config(None, ["ingest.late_days=2", "ingest.date_range=[2026-11-01, 2026-11-09]"])
    event_days = [dt.date(2026, 11, d) for d in range(1, 8)]
    dated = schedule.dated_config(cfg, D, event_days)
    assert dated.ingest.dates == (D,) and dated.ingest.date_range == ()
    # late events of D's folder go back 2 days; clock skew reaches past midnight
    assert dated.features.dates == (dt.date(2026, 11, 3), dt.date(2026, 11, 4), D, dt.date(2026, 11, 6))
    # only days that have events: features refuses others
    assert schedule.dated_config(cfg, dt.date(2026, 11, 7), event_days).features.dates == (
        dt.date(2026, 11, 5),
        dt.date(2026, 11, 6),
        dt.date(2026, 11, 7),
    )


def test_run_ids_name_their_date_and_ranges_are_inclusive() -> None:
    assert schedule.run_id(D) == "20261105"
    assert paths.run_date("20261105") == D
    assert paths.run_date("20261122T204439474743Z") is None
    assert schedule.days(D, D + dt.timedelta(days=2)) == [D, D + dt.timedelta(days=1), D + dt.timedelta(days=2)]
    with pytest.raises(ValueError, match="ends .* before it starts"):
        schedule.days(D, D - dt.timedelta(days=1))


def _summary(tmp_path: Path, day: dt.date, splits: dict[str, int], model: str | None = None) -> RunSummary:
    summary = RunSummary.new(str(tmp_path), {}, run_id=schedule.run_id(day))
    report = StageReport(metrics=FeaturesMetrics(samples={s: SplitMetrics(rows=n) for s, n in splits.items()}))
    summary.record("features", 1.0, report)
    if model:
        summary.record("train", 1.0, StageReport(artifacts={"model": model}))
    summary.save()
    return summary


def test_stages_wait_for_the_splits_and_the_model_they_need(tmp_path: Path) -> None:
    only_train = _summary(tmp_path, D, {"train": 10})
    assert "no train or valid samples" in (schedule.skip_reason("train", only_train) or "")
    assert "no test samples" in (schedule.skip_reason("evaluate", only_train) or "")
    assert "no model" in (schedule.skip_reason("score", only_train) or "")
    with_valid = _summary(tmp_path, D, {"train": 10, "valid": 3})
    assert schedule.skip_reason("train", with_valid) is None
    trained = _summary(tmp_path, D, {"train": 10, "valid": 3}, model="/m/5")
    assert schedule.skip_reason("score", trained) is None
    assert "no test samples" in (schedule.skip_reason("evaluate", trained) or "")
    for stage in ("ingest", "features"):
        assert schedule.skip_reason(stage, only_train) is None


def test_warm_start_takes_the_latest_earlier_dated_model(tmp_path: Path) -> None:
    _summary(tmp_path, dt.date(2026, 11, 2), {"valid": 1}, model="/m/2")
    _summary(tmp_path, dt.date(2026, 11, 3), {"valid": 1}, model="/m/3")
    _summary(tmp_path, dt.date(2026, 11, 4), {"train": 1})  # no model that day
    _summary(tmp_path, dt.date(2026, 11, 6), {"valid": 1}, model="/m/6")  # later: not a source
    RunSummary.new(str(tmp_path), {}, run_id="20261105T000000000000Z").save()  # undated run
    assert previous_model(str(tmp_path), "20261105") == "/m/3"
    assert previous_model(str(tmp_path), "20261103") == "/m/2"
    assert previous_model(str(tmp_path), "20261102") is None
    assert previous_model(str(tmp_path / "nothing"), "20261105") is None


@pytest.mark.parametrize(
    "argv",
    [
        ["backfill", "--from", "2026-11-01"],
        ["tune", "--date", "2026-11-01"],
        ["generate", "--date", "2026-11-01"],
        ["run", "--date", "2026-13-01"],
        ["run", "--from", "2026-11-01", "--to", "2026-11-02"],
    ],
)
def test_wrong_date_arguments_fail_before_any_work(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "date" in capsys.readouterr().err


def test_a_backfill_range_backwards_fails_naming_both_dates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backfill", "--from", "2026-11-03", "--to", "2026-11-01"]) == 2
    err = capsys.readouterr().err
    assert "2026-11-03" in err and "2026-11-01" in err
