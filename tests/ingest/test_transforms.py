from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.ingest.transforms import (
    drop_duplicates,
    parse_json_lines,
    quarantine,
    valid_events,
)

DAY = dt.date(2026, 11, 1)
NEXT_DAY = dt.date(2026, 11, 2)
FILE = "file:/data/raw/dt=2026-11-01/part-00000.json"
UTC = dt.UTC
PARSED_DDL = (
    "event_id string, ts timestamp, user_id string, item_id string, event_type string, "
    "category_id string, price double, dt date, raw string, source_file string, reason string"
)
GOOD = {
    "event_id": "e1",
    "ts": "2026-11-01T10:00:00.000Z",
    "user_id": "u1",
    "item_id": "i1",
    "event_type": "click",
    "category_id": "c1",
    "price": 9.5,
}


def at(hour: int, minute: int = 0, second: int = 0, micro: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=UTC)


def line(drop: tuple[str, ...] = (), **changes: Any) -> str:
    """A JSON line like the generator writes: GOOD with fields changed or dropped."""
    fields = {k: v for k, v in {**GOOD, **changes}.items() if k not in drop}
    return json.dumps(fields)


def lines_df(spark: SparkSession, lines: list[str]) -> DataFrame:
    return spark.createDataFrame([(v, FILE, DAY) for v in lines], "value string, source_file string, dt date")


def reasons(spark: SparkSession, lines: list[str]) -> DataFrame:
    return parse_json_lines(lines_df(spark, lines)).select(S.RAW, S.REASON)


def expected_reasons(spark: SparkSession, rows: list[tuple[str, str | None]]) -> DataFrame:
    return spark.createDataFrame(rows, "raw string, reason string")


def test_parse_json_lines_parses_valid_lines_with_typed_timestamp(spark: SparkSession) -> None:
    full = line()
    sparse = line(drop=("category_id", "price"), event_id="e2", ts="2026-11-01T23:59:59.250Z", event_type="impression")
    no_zone = line(event_id="e3", ts="2026-11-01 08:30:00", price=0.0)

    actual = parse_json_lines(lines_df(spark, [full, sparse, no_zone]))

    expected = spark.createDataFrame(
        [
            ("e1", at(10), "u1", "i1", "click", "c1", 9.5, DAY, full, FILE, None),
            ("e2", at(23, 59, 59, 250_000), "u1", "i1", "impression", None, None, DAY, sparse, FILE, None),
            ("e3", at(8, 30), "u1", "i1", "click", "c1", 0.0, DAY, no_zone, FILE, None),
        ],
        PARSED_DDL,
    )
    assertDataFrameEqual(actual, expected)


def test_parse_json_lines_names_empty_malformed_and_mistyped_lines(spark: SparkSession) -> None:
    truncated = line()[:40]
    bad_type = line(price="abc")
    not_an_object = "[1, 2]"

    actual = reasons(spark, ["", "   ", truncated, bad_type, not_an_object])

    expected = expected_reasons(
        spark,
        [
            ("", "empty_line"),
            ("   ", "empty_line"),
            (truncated, "malformed_json"),
            (bad_type, "bad_type"),
            (not_an_object, "malformed_json"),
        ],
    )
    assertDataFrameEqual(actual, expected)


def test_parse_json_lines_names_the_first_broken_field_rule(spark: SparkSession) -> None:
    no_user = line(drop=("user_id",))
    blank_user = line(user_id="  ")
    no_user_and_negative_price = line(drop=("user_id",), price=-1.0)
    unknown_type = line(event_type="view")
    no_type = line(drop=("event_type",))
    lines = [no_user, blank_user, no_user_and_negative_price, unknown_type, no_type]

    actual = reasons(spark, lines)

    expected = expected_reasons(
        spark,
        [
            (no_user, "missing_user_id"),
            (blank_user, "missing_user_id"),
            (no_user_and_negative_price, "missing_user_id"),
            (unknown_type, "unknown_event_type"),
            (no_type, "unknown_event_type"),
        ],
    )
    assertDataFrameEqual(actual, expected)


def test_parse_json_lines_names_bad_timestamps_and_prices(spark: SparkSession) -> None:
    words = line(ts="yesterday")
    no_such_day = line(ts="2026-11-31T10:00:00.000Z")
    no_ts = line(drop=("ts",))
    negative = line(price=-0.01)
    no_price = line(drop=("price",))

    actual = reasons(spark, [words, no_such_day, no_ts, negative, no_price])

    expected = expected_reasons(
        spark,
        [
            (words, "bad_timestamp"),
            (no_such_day, "bad_timestamp"),
            (no_ts, "bad_timestamp"),
            (negative, "bad_price"),
            (no_price, None),
        ],
    )
    assertDataFrameEqual(actual, expected)


def test_parse_json_lines_names_missing_event_id_rather_than_malformed_json(spark: SparkSession) -> None:
    # well-formed JSON with every field but event_id is not malformed
    no_id = line(drop=("event_id",))
    blank_id = line(event_id="")

    actual = reasons(spark, [no_id, blank_id])

    expected = expected_reasons(spark, [(no_id, "missing_event_id"), (blank_id, "missing_event_id")])
    assertDataFrameEqual(actual, expected)


def test_quarantine_keeps_raw_text_file_and_reason_of_bad_lines_only(spark: SparkSession) -> None:
    truncated = line()[:25]
    negative = line(price=-3.0)
    parsed = parse_json_lines(lines_df(spark, [line(), "", truncated, negative]))

    actual = quarantine(parsed)

    expected = spark.createDataFrame(
        [
            (DAY, FILE, "", "empty_line"),
            (DAY, FILE, truncated, "malformed_json"),
            (DAY, FILE, negative, "bad_price"),
        ],
        S.QUARANTINE_SCHEMA,
    )
    assertDataFrameEqual(actual, expected)


def test_valid_events_keeps_good_lines_in_the_events_schema(spark: SparkSession) -> None:
    impression = line(drop=("price", "category_id"), event_id="e2", event_type="impression")
    parsed = parse_json_lines(lines_df(spark, [line(), impression, line(ts="soon"), line(event_type="view")]))

    actual = valid_events(parsed)

    expected = spark.createDataFrame(
        [
            ("e1", at(10), "u1", "i1", "click", "c1", 9.5, DAY),
            ("e2", at(10), "u1", "i1", "impression", None, None, DAY),
        ],
        S.EVENTS_SCHEMA,
    )
    assertDataFrameEqual(actual, expected)


def test_every_line_is_either_a_valid_event_or_quarantined(spark: SparkSession) -> None:
    lines = [line(), line(event_id="e1"), "", "{", line(user_id=None), line(event_id="e9", price=None)]
    parsed = parse_json_lines(lines_df(spark, lines))

    n_valid = valid_events(parsed).count()
    n_quarantined = quarantine(parsed).count()

    assert (n_valid, n_quarantined) == (3, 3)


def events_df(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(rows, S.EVENTS_SCHEMA)


def test_drop_duplicates_keeps_the_earliest_row_of_each_event_id(spark: SparkSession) -> None:
    rows = [
        ("e1", at(10, 5), "u1", "i1", "click", "c1", 1.0, DAY),
        ("e1", at(10), "u1", "i1", "click", "c1", 2.0, DAY),
        ("e2", at(9), "u2", "i2", "impression", None, None, DAY),
        # a late copy filed under the next day, same ts: the earlier dt wins
        ("e3", at(23, 59), "u3", "i3", "purchase", "c3", 5.0, NEXT_DAY),
        ("e3", at(23, 59), "u3", "i3", "purchase", "c3", 5.0, DAY),
        # same ts and dt: the smaller user id wins
        ("e4", at(12), "u9", "i4", "click", None, None, DAY),
        ("e4", at(12), "u5", "i4", "click", None, None, DAY),
    ]

    actual = drop_duplicates(events_df(spark, rows))

    expected = events_df(
        spark,
        [
            ("e1", at(10), "u1", "i1", "click", "c1", 2.0, DAY),
            ("e2", at(9), "u2", "i2", "impression", None, None, DAY),
            ("e3", at(23, 59), "u3", "i3", "purchase", "c3", 5.0, DAY),
            ("e4", at(12), "u5", "i4", "click", None, None, DAY),
        ],
    )
    assertDataFrameEqual(actual, expected)


def test_drop_duplicates_keeps_the_same_row_whatever_the_input_order(spark: SparkSession) -> None:
    # copies that agree on ts, dt, user and item but not on the payload
    rows = [
        ("e1", at(10), "u1", "i1", "click", "c1", 1.0, DAY),
        ("e1", at(10), "u1", "i1", "purchase", "c1", 2.0, DAY),
        ("e1", at(10), "u1", "i1", "impression", None, None, DAY),
        ("e2", at(11), "u2", "i2", "click", "c2", 3.0, DAY),
    ]

    forward = drop_duplicates(events_df(spark, rows))
    backward = drop_duplicates(events_df(spark, rows[::-1]))

    assertDataFrameEqual(forward, backward)
