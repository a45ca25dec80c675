from __future__ import annotations

import datetime as dt

import pytest

from mtlrec.features.plan import Plan, label_span_days, plan_days


def days(*numbers: int) -> tuple[dt.date, ...]:
    return tuple(dt.date(2026, 11, n) for n in numbers)


VALID_START = dt.date(2026, 11, 3)


def plan(built: tuple[dt.date, ...], *, requested: tuple[dt.date, ...] = (), full: bool = False) -> Plan:
    return plan_days(
        days(1, 2, 3, 4),
        built=built,
        requested=requested,
        full=full,
        span=1,
        valid_start=VALID_START,
        samples_ready=True,
    )


def test_a_new_day_rebuilds_its_features_the_scoring_date_and_the_samples_it_labels() -> None:
    assert plan(days(1, 2, 3)) == Plan(
        daily=days(4), features=days(4, 5), samples=days(3, 4), full=False, full_samples=False
    )


def test_nothing_new_builds_nothing() -> None:
    assert plan(days(1, 2, 3, 4)).empty


def test_rebuilding_a_train_day_rebuilds_every_sample() -> None:
    rebuilt = plan(days(1, 2, 3, 4), requested=days(2))

    assert rebuilt.daily == days(2)
    assert rebuilt.features == days(2, 3, 4, 5)  # every day whose 30-day window holds day 2
    assert rebuilt.samples == days(1, 2, 3, 4)
    assert rebuilt.full_samples and not rebuilt.full


def test_a_full_rebuild_builds_every_day() -> None:
    assert plan((), full=True) == Plan(
        daily=days(1, 2, 3, 4), features=days(1, 2, 3, 4, 5), samples=days(1, 2, 3, 4), full=True, full_samples=True
    )


def test_requesting_a_day_without_events_fails() -> None:
    with pytest.raises(ValueError, match="2026-11-09"):
        plan(days(1, 2, 3, 4), requested=days(9))


def test_label_span_counts_the_days_a_window_can_reach() -> None:
    assert label_span_days(click_minutes=30, attribution_hours=3) == 1
    assert label_span_days(click_minutes=30, attribution_hours=48) == 3
    assert label_span_days(click_minutes=0, attribution_hours=0) == 0
