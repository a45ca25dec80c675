from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from mtlrec.features.labels import exposures, labelled

D1 = dt.date(2026, 11, 1)
LATER = D1 + dt.timedelta(days=3)
DDL = (
    "event_id string, ts timestamp, user_id string, item_id string, category_id string, price double, dt date, "
    "sampled boolean, label_open boolean, click float, cart float, purchase float"
)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(D1.year, D1.month, D1.day, hour, minute, tzinfo=dt.UTC)


def label(
    events: DataFrame, *, run_date: dt.date, open_windows: str = "exclude", from_clicks: bool = False
) -> DataFrame:
    return labelled(
        exposures(events, from_clicks=from_clicks),
        events,
        click_minutes=30,
        attribution_hours=3,
        run_date=run_date,
        open_windows=open_windows,
    )


def row(event: str, ts: dt.datetime, user: str, item: str, labels: tuple[Any, ...], *, is_open: bool = False) -> tuple:
    return (event, ts, user, item, "c1", 5.0, D1, False, is_open, *labels)


def test_a_click_counts_for_the_latest_exposure_and_a_purchase_for_its_click(
    spark: SparkSession, events_of: Any
) -> None:
    def ev(event: str, ts: dt.datetime, user: str, item: str, kind: str) -> tuple:
        return (event, ts, user, item, kind, "c1", 5.0)

    events = events_of(
        [
            ev("m1", at(10), "u1", "i1", "impression"),
            ev("m2", at(10, 10), "u1", "i1", "impression"),  # shown again: the click is this one's
            ev("k1", at(10, 20), "u1", "i1", "click"),
            ev("p1", at(12), "u1", "i1", "purchase"),  # 100 minutes after the click
            ev("m3", at(11), "u1", "i2", "impression"),
            ev("k2", at(11, 45), "u1", "i2", "click"),  # 45 minutes: too late to be m3's
            ev("p2", at(11, 50), "u1", "i2", "purchase"),  # follows no attributed click
            ev("m4", at(13), "u2", "i1", "impression"),
            ev("k3", at(13, 5), "u2", "i1", "click"),
            ev("c3", at(13, 10), "u2", "i1", "cart"),
            ev("p3", at(16, 6), "u2", "i1", "purchase"),  # 3 hours and a minute after the click
            ev("m5", at(9), "u3", "i3", "impression"),
            ev("p5", at(9, 30), "u3", "i3", "purchase"),  # bought without clicking
        ]
    )

    actual = label(events, run_date=LATER)

    expected = spark.createDataFrame(
        [
            row("m1", at(10), "u1", "i1", (0.0, 0.0, 0.0)),
            row("m2", at(10, 10), "u1", "i1", (1.0, 0.0, 1.0)),
            row("m3", at(11), "u1", "i2", (0.0, 0.0, 0.0)),
            row("m4", at(13), "u2", "i1", (1.0, 1.0, 0.0)),
            row("m5", at(9), "u3", "i3", (0.0, 0.0, 0.0)),
        ],
        DDL,
    )
    assertDataFrameEqual(actual, expected)


OPEN_AT_MIDNIGHT = [
    ("e1", at(20), "u1", "i1", "impression", "c1", 5.0),  # windows close at 23:30
    ("k1", at(20, 10), "u1", "i1", "click", "c1", 5.0),
    ("e2", at(21), "u1", "i2", "impression", "c1", 5.0),  # purchase window closes at 00:30
    ("k2", at(21, 5), "u1", "i2", "click", "c1", 5.0),
    ("e3", at(23, 45), "u2", "i1", "impression", "c1", 5.0),  # even the click window is open
    ("e4", at(22), "u2", "i2", "impression", "c1", 5.0),
    ("k4", at(22, 1), "u2", "i2", "click", "c1", 5.0),
    ("p4", at(22, 30), "u2", "i2", "purchase", "c1", 5.0),  # bought while the window is open
]


def test_open_windows_are_flagged_with_unknown_labels_never_negative(spark: SparkSession, events_of: Any) -> None:
    run_date = D1 + dt.timedelta(days=1)

    actual = label(events_of(OPEN_AT_MIDNIGHT), run_date=run_date, open_windows="flag")

    expected = spark.createDataFrame(
        [
            row("e1", at(20), "u1", "i1", (1.0, 0.0, 0.0)),
            row("e2", at(21), "u1", "i2", (1.0, None, None), is_open=True),
            row("e3", at(23, 45), "u2", "i1", (None, None, None), is_open=True),
            row("e4", at(22), "u2", "i2", (1.0, None, 1.0), is_open=True),
        ],
        DDL,
    )
    assertDataFrameEqual(actual, expected)


def test_open_windows_are_excluded_by_default(spark: SparkSession, events_of: Any) -> None:
    actual = label(events_of(OPEN_AT_MIDNIGHT), run_date=D1 + dt.timedelta(days=1))

    assertDataFrameEqual(actual, spark.createDataFrame([row("e1", at(20), "u1", "i1", (1.0, 0.0, 0.0))], DDL))


def test_without_impressions_every_click_is_a_clicked_exposure(spark: SparkSession, events_of: Any) -> None:
    events = events_of(
        [
            ("k1", at(10), "u1", "i1", "click", "c1", 5.0),
            ("c1", at(10, 5), "u1", "i1", "cart", "c1", 5.0),
            ("k2", at(11), "u1", "i1", "click", "c1", 5.0),  # the cart came before it: not its own
            ("p2", at(11, 30), "u1", "i1", "purchase", "c1", 5.0),
        ]
    )

    actual = label(events, run_date=LATER, from_clicks=True)

    expected = spark.createDataFrame(
        [row("k1", at(10), "u1", "i1", (1.0, 1.0, 0.0)), row("k2", at(11), "u1", "i1", (1.0, 0.0, 1.0))], DDL
    )
    assertDataFrameEqual(actual, expected)


def test_a_click_after_an_exposure_of_another_day_is_not_this_ones(spark: SparkSession, events_of: Any) -> None:
    next_day = dt.datetime(D1.year, D1.month, D1.day + 1, 0, 1, tzinfo=dt.UTC)
    events = events_of(
        [
            ("m1", at(23, 50), "u1", "i1", "impression", "c1", 5.0),  # the day being rebuilt
            ("m2", next_day, "u1", "i1", "impression", "c1", 5.0),  # a day that is not
            ("k2", next_day + dt.timedelta(minutes=4), "u1", "i1", "click", "c1", 5.0),
        ]
    )
    rebuilt = exposures(events.where(events.dt == D1), from_clicks=False)

    actual = labelled(
        rebuilt,
        events,
        click_minutes=30,
        attribution_hours=3,
        run_date=LATER,
        open_windows="exclude",
        competing=exposures(events, from_clicks=False),
    )

    assertDataFrameEqual(actual, spark.createDataFrame([row("m1", at(23, 50), "u1", "i1", (0.0, 0.0, 0.0))], DDL))
