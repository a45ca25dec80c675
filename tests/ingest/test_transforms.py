"""Ingest transforms over tiny inline logs: parsing, rules, bots, duplicates."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.ingest import transforms as T
from mtlrec.ingest.parse import parse_csv_lines, parse_json_lines
from mtlrec.mapping import Mapping, load_mapping

DAY = dt.date(2026, 11, 3)
FILE = "file:/data/raw/dt=2026-11-03/part-00000.json"
MTLREC = load_mapping("mtlrec")
GOOD = {
    "event_id": "e1",
    "ts": "2026-11-03T10:00:00.000Z",
    "user_id": "u1",
    "item_id": "i1",
    "event_type": "click",
    "category_id": "c1",
    "price": 9.5,
}


def at(hour: int, minute: int = 0, second: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=dt.UTC)


def line(drop: tuple[str, ...] = (), **changes: Any) -> str:
    """A JSON line like the generator writes: GOOD with fields changed or dropped."""
    return json.dumps({k: v for k, v in {**GOOD, **changes}.items() if k not in drop})


def lines_df(spark: SparkSession, lines: list[str], day: dt.date = DAY) -> DataFrame:
    return spark.createDataFrame([(v, FILE, day) for v in lines], "value string, source_file string, dt date")


def validated(
    spark: SparkSession, lines: list[str], *, mapping: Mapping = MTLREC, fmt: str = "json", day: dt.date = DAY
) -> DataFrame:
    df = lines_df(spark, lines, day)
    parsed = (
        parse_json_lines(df, mapping=mapping)
        if fmt == "json"
        else parse_csv_lines(df, mapping=mapping, columns=mapping.fields, separator=",")
    )
    return T.validate(
        T.canonical(parsed, mapping=mapping),
        mapping=mapping,
        fmt=fmt,
        late_days=3,
        clock_skew_minutes=10,
        max_price=1000.0,
        max_id_length=256,
    )


def reasons_of(df: DataFrame) -> list[tuple[str, str | None]]:
    return [(r[S.RAW], r[S.REASON]) for r in df.select(S.RAW, S.REASON).collect()]


def test_a_valid_json_line_becomes_a_typed_event_of_its_own_date(spark: SparkSession) -> None:
    late = line(event_id="e2", ts="2026-11-01T23:59:59Z", event_type="impression", drop=("price", "category_id"))

    actual = validated(spark, [line(), late]).select(*S.STORED_EVENTS_SCHEMA.fieldNames(), S.REASON)

    expected = spark.createDataFrame(
        [
            ("e1", at(10), "u1", "i1", "click", "c1", 9.5, DAY, DAY, None),
            (
                "e2",
                at(23, 59, 59, dt.date(2026, 11, 1)),
                "u1",
                "i1",
                "impression",
                None,
                None,
                dt.date(2026, 11, 1),
                DAY,
                None,
            ),
        ],
        "event_id string, ts timestamp, user_id string, item_id string, event_type string, category_id string, "
        "price double, dt date, source_dt date, reason string",
    )
    assertDataFrameEqual(actual, expected)


def test_each_broken_json_line_gets_the_first_rule_it_breaks(spark: SparkSession) -> None:
    cases = {
        "": "empty_line",
        "   ": "empty_line",
        line()[:30]: "malformed_json",
        '{"unrelated": 1}': "malformed_json",
        line(price="n/a"): "bad_type",
        line(user_id=7): "bad_type",
        line(drop=("event_id",)): "missing_event_id",
        line(user_id=" ", drop=("item_id",)): "missing_user_id",
        line(drop=("item_id",), price=-1.0): "missing_item_id",
        line(event_type="hover"): "unknown_event_type",
        line(ts="yesterday"): "bad_timestamp",
        line(ts="2026-11-31T10:00:00Z"): "bad_timestamp",
        line(ts="1996-11-03T10:00:00Z"): "timestamp_out_of_range",
        line(ts="2026-10-30T23:59:59Z"): "timestamp_out_of_range",  # more than 3 days late
        line(ts="2026-11-04T00:10:00Z"): "timestamp_out_of_range",  # past the 10 minutes of skew
        line(price=-0.01): "bad_price",
        line(price=1000.5): "bad_price",
        line(ts="2026-10-31T00:00:00Z"): None,  # late, within the window
        line(ts="2026-11-04T00:09:59Z"): None,  # the next day, within the skew
        line(drop=("price", "category_id")): None,
    }

    actual = reasons_of(validated(spark, list(cases)))

    assert sorted(actual, key=str) == sorted(cases.items(), key=str)


def test_a_line_that_is_not_utf8_is_kept_readable_in_quarantine(spark: SparkSession) -> None:
    broken = lines_df(spark, [line()]).select(
        F.concat(F.lit('{"event_id":"e'), F.unhex(F.lit("FF")).cast("string"), F.lit('1"}')).alias("value"),
        S.SOURCE_FILE,
        S.DT,
    )

    (row,) = parse_json_lines(broken, mapping=MTLREC).collect()

    assert row[S.REASON] == "bad_encoding"
    assert row[S.RAW] == '{"event_id":"e\ufffd1"}'


def test_csv_lines_need_every_field_and_may_quote_the_separator(spark: SparkSession) -> None:
    cases = {
        'e1,2026-11-03T10:00:00Z,u1,i1,click,"c,1",9.5': None,
        '"e""1",2026-11-03T10:00:00Z,u1,i1,click,,': None,
        "e1,2026-11-03T10:00:00Z,u1,i1,click,c1": "malformed_csv",
        "e1,2026-11-03T10:00:00Z,u1,i1,click,c1,9.5,extra": "malformed_csv",
        "e1,2026-11-03T10:00:00Z,u1,i1,click,c1,n/a": "bad_type",
        ",,,,,,": "malformed_csv",
        ",2026-11-03T10:00:00Z,u1,i1,click,c1,1": "missing_event_id",
    }

    rows = validated(spark, list(cases), fmt="csv").select(S.RAW, S.REASON, S.EVENT_ID, S.CATEGORY_ID).collect()

    assert {r[S.RAW]: r[S.REASON] for r in rows} == cases
    assert {(r[S.EVENT_ID], r[S.CATEGORY_ID]) for r in rows if r[S.REASON] is None} == {("e1", "c,1"), ('e"1', None)}


def test_a_taobao_record_maps_its_behaviour_and_epoch_seconds_and_gets_a_stable_id(spark: SparkSession) -> None:
    taobao = load_mapping("taobao")
    second = int(at(12, 40).timestamp())
    pv = f"1,2268318,2520377,pv,{second}"
    lines = [pv, pv, f"1,2268318,2520377,buy,{second}", f"1,5,7,fav,{second}", f"1,5,7,like,{second}"]

    rows = validated(spark, lines, mapping=taobao, fmt="csv").withColumn(S.TS, F.unix_seconds(S.TS)).collect()

    assert [(r[S.EVENT_TYPE], r[S.REASON]) for r in rows] == [
        (S.CLICK, None),
        (S.CLICK, None),
        (S.PURCHASE, None),
        (None, "ignored_event_type"),
        (None, "unknown_event_type"),
    ]
    assert rows[0][S.TS] == second and rows[0][S.USER_ID] == "1" and rows[0][S.CATEGORY_ID] == "2520377"
    assert rows[0][S.EVENT_ID] == rows[1][S.EVENT_ID] != rows[2][S.EVENT_ID]


@pytest.mark.slow
def test_a_user_above_the_rate_in_one_minute_is_a_bot_on_that_run_date_only(spark: SparkSession) -> None:
    burst = [line(event_id=f"b{i}", user_id="bot", ts=f"2026-11-03T10:00:{i % 60:02d}.{i:03d}Z") for i in range(61)]
    calm = [line(event_id=f"c{i}", user_id="calm", ts=f"2026-11-03T10:00:{i:02d}Z") for i in range(60)]
    # the bot's other records of the day are quarantined with it, broken ones keep their reason
    other = [line(event_id="b99", user_id="bot", ts="2026-11-03T18:00:00Z"), line(user_id="bot", price=-1.0)]
    events = validated(spark, burst + calm + other)
    next_day = validated(
        spark, [line(event_id="n1", user_id="bot", ts="2026-11-04T09:00:00Z")], day=DAY + dt.timedelta(days=1)
    )
    both = events.unionByName(next_day)

    flagged = T.flag_bots(both, bots=T.bot_users(both, max_per_minute=60))

    counts = {
        (r[S.USER_ID], r[S.REASON]): r["n"]
        for r in flagged.groupBy(S.USER_ID, S.REASON).count().withColumnRenamed("count", "n").collect()
    }
    assert counts == {("bot", "bot"): 62, ("bot", "bad_price"): 1, ("calm", None): 60, ("bot", None): 1}


def events_df(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    """Validated records: (event_id, ts, user, source_dt, reason)."""
    return spark.createDataFrame(
        [(e, ts, u, "i1", "click", None, None, ts.date(), day, None, FILE, reason) for e, ts, u, day, reason in rows],
        "event_id string, ts timestamp, user_id string, item_id string, event_type string, category_id string, "
        "price double, dt date, source_dt date, raw string, source_file string, reason string",
    )


def duplicates(spark: SparkSession, rows: list[tuple[Any, ...]], stored: list[str] = ()) -> set[tuple[Any, ...]]:
    events = events_df(spark, rows)
    existing = spark.createDataFrame([(e,) for e in stored], "event_id string")
    marked = T.mark_duplicates(events, contested=T.contested_ids(events, existing=existing))
    return {
        (r[S.EVENT_ID], r[S.SOURCE_DT], dt.datetime.fromtimestamp(r["t"], dt.UTC), r[T.DUPLICATE])
        for r in marked.withColumn("t", F.unix_seconds(S.TS)).collect()
    }


def test_the_earliest_copy_of_an_id_is_kept_whatever_the_order(spark: SparkSession) -> None:
    later = DAY + dt.timedelta(days=1)
    rows = [
        ("e1", at(10, 5), "u1", DAY, None),
        ("e1", at(10), "u1", DAY, None),
        ("e2", at(9), "u2", later, None),  # re-sent the next day
        ("e2", at(9), "u2", DAY, None),
        ("e3", at(8), "u3", DAY, None),
        ("e3", at(8), "u3", DAY, "bot"),  # quarantined: never a duplicate
    ]
    expected = {
        ("e1", DAY, at(10, 5), True),
        ("e1", DAY, at(10), False),
        ("e2", later, at(9), True),
        ("e2", DAY, at(9), False),
        ("e3", DAY, at(8), False),
    }

    assert duplicates(spark, rows) == expected
    assert duplicates(spark, rows[::-1]) == expected


def test_an_id_another_run_date_already_stored_is_a_duplicate(spark: SparkSession) -> None:
    rows = [("e1", at(10), "u1", DAY, None), ("e2", at(11), "u1", DAY, None), ("e2", at(11), "u1", DAY, None)]

    assert duplicates(spark, rows, stored=["e2", "e9"]) == {
        ("e1", DAY, at(10), False),
        ("e2", DAY, at(11), True),
    }


@pytest.mark.slow
def test_quarantine_and_clean_events_split_the_marked_records(spark: SparkSession) -> None:
    events = validated(spark, [line(), line(), "", line(event_id="e2", ts="2026-11-02T10:00:00Z")])
    marked = T.mark_duplicates(events, contested=T.contested_ids(events, existing=events.limit(0)))

    clean = T.clean_events(marked)
    held = T.quarantine(marked)
    tally = {(r[S.REASON], r[T.DUPLICATE], r[S.LATE]): r[T.RECORDS] for r in T.tally(marked).collect()}

    assert clean.columns == S.STORED_EVENTS_SCHEMA.fieldNames()
    assert sorted((r[S.EVENT_ID], r[S.DT]) for r in clean.collect()) == [("e1", DAY), ("e2", dt.date(2026, 11, 2))]
    assert [tuple(r) for r in held.collect()] == [(DAY, FILE, "", "empty_line")]
    assert tally == {
        (None, False, False): 1,
        (None, True, False): 1,
        (None, False, True): 1,
        ("empty_line", False, False): 1,
    }


def test_day_counts_observe_rows_and_late_ones_per_run_date(spark: SparkSession) -> None:
    later = DAY + dt.timedelta(days=1)
    rows = [("e1", at(10), "u1", DAY, None), ("e2", at(9), "u1", later, None), ("e3", at(8), "u2", later, None)]
    events = events_df(spark, rows + [("e4", at(7, day=later), "u2", later, None)])

    counts = events.agg(*T.day_counts([DAY, later], run_date=S.SOURCE_DT, late=True)).first()

    assert counts is not None
    assert counts.asDict() == {
        DAY.isoformat(): 1,
        T.late_name(DAY): 0,
        later.isoformat(): 3,
        T.late_name(later): 2,
    }
