"""Ingest end to end over real Spark and Delta: a generated dirty log, re-runs, Taobao.

The generator writes how many lines of each kind it planted (`_manifest.json`); the
ingest must find exactly those, reason by reason and run date by run date.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.cli import main
from mtlrec.generate import dirt
from mtlrec.generate.stage import manifest_path

# each test runs the ingest stage over generated or hand-written logs
pytestmark = pytest.mark.slow

START = dt.date(2026, 11, 1)
DIRTY = [
    "generate.events=2500",
    "generate.users=300",
    "generate.items=200",
    "generate.partitions=2",
    "generate.dirt.duplicate=0.03",
    "generate.dirt.late=0.03",
    "generate.dirt.bot=0.1",
    *[f"generate.dirt.{kind}=0.006" for kind in (*dirt.FIELD_KINDS, *dirt.LINE_KINDS)],
]
# the quarantine reason each kind of planted dirt must get
REASON = {
    "truncated": "malformed_{fmt}",
    "wrong_type": "bad_type",
    "missing_event_id": "missing_event_id",
    "missing_user_id": "missing_user_id",
    "missing_item_id": "missing_item_id",
    "unknown_event_type": "unknown_event_type",
    "negative_price": "bad_price",
    "absurd_price": "bad_price",
    "ts_far_past": "timestamp_out_of_range",
    "ts_far_future": "timestamp_out_of_range",
    "non_utf8": "bad_encoding",
    "empty_line": "empty_line",
    "bot": "bot",
}


def mtlrec(stage: str, root: Path, *overrides: str) -> int:
    sets = [a for o in (f"paths.root={root}", *overrides) for a in ("--set", o)]
    return main([stage, "--conf", "conf/local.yaml", "--new-run", *sets])


def delta(spark: SparkSession, root: Path, name: str) -> DataFrame:
    return spark.read.format("delta").load(f"{root}/tables/{name}")


def expected_quality(manifest: dict[str, Any], fmt: str) -> dict[str, dict[str, Any]]:
    """What dq_metrics must say per run date, from what the generator planted."""
    expected = {}
    for day, kinds in manifest["lines"].items():
        quarantined: Counter[str] = Counter()
        for kind, n in kinds.items():
            if kind in REASON:
                quarantined[REASON[kind].format(fmt=fmt)] += n
        expected[day] = {
            S.READ: sum(kinds.values()),
            S.CLEAN: kinds.get("clean", 0) + kinds.get("late", 0),
            S.DUPLICATES: kinds.get("duplicate", 0),
            S.LATE: kinds.get("late", 0),
            S.QUARANTINED: sum(quarantined.values()),
            S.QUARANTINED_BY_REASON: {r: n for r, n in quarantined.items() if n},
        }
    return expected


def actual_quality(spark: SparkSession, root: Path) -> dict[str, dict[str, Any]]:
    rows = delta(spark, root, S.DQ_METRICS_TABLE).collect()
    return {
        r[S.DT].isoformat(): {
            **{c: r[c] for c in (S.READ, S.CLEAN, S.DUPLICATES, S.LATE, S.QUARANTINED)},
            S.QUARANTINED_BY_REASON: {k: v for k, v in r[S.QUARANTINED_BY_REASON].items() if v},
        }
        for r in rows
    }


@pytest.fixture(scope="module")
def dirty_json(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dirty JSON log, ingested in two runs: the first four dates, then the rest.

    Re-sent lines of day 4 in day 5's folder are then duplicates of what the first
    run stored, found through the lookback.
    """
    root = tmp_path_factory.mktemp("dirty_json")
    assert mtlrec("generate", root, *DIRTY) == 0
    assert mtlrec("ingest", root, "ingest.date_range=[2026-11-01, 2026-11-04]") == 0
    assert mtlrec("ingest", root, "ingest.date_range=[2026-11-05, 2026-11-07]") == 0
    return root


def test_dq_metrics_count_exactly_what_the_generator_planted(spark: SparkSession, dirty_json: Path) -> None:
    manifest = storage.read_json(manifest_path(f"{dirty_json}/raw"))
    planted = set(manifest["totals"])
    assert set(REASON) | {"clean", "late", "duplicate"} <= planted, "every kind of dirt must be planted"

    assert actual_quality(spark, dirty_json) == expected_quality(manifest, "json")


def test_events_are_unique_and_late_ones_sit_in_their_own_date(spark: SparkSession, dirty_json: Path) -> None:
    events = delta(spark, dirty_json, S.EVENTS_TABLE)
    late = storage.read_json(manifest_path(f"{dirty_json}/raw"))["totals"]["late"]

    assert events.count() == events.select(S.EVENT_ID).distinct().count()
    assert events.where(F.col(S.DT) != F.to_date(S.TS)).count() == 0
    assert events.where(F.col(S.DT) < F.col(S.SOURCE_DT)).count() == late > 0


def test_quarantine_keeps_each_rejected_line_with_its_file_and_run_date(spark: SparkSession, dirty_json: Path) -> None:
    held = delta(spark, dirty_json, S.QUARANTINE_TABLE)
    by_reason = {r[S.REASON]: r["count"] for r in held.groupBy(S.REASON).count().collect()}

    assert by_reason["empty_line"] == held.where(F.trim(S.RAW) == "").count()
    assert held.where(F.col(S.REASON) == "malformed_json").where(F.col(S.RAW).endswith("}")).count() == 0
    files = {r[S.SOURCE_FILE] for r in held.select(S.SOURCE_FILE, S.DT).distinct().collect()}
    assert all("/raw/dt=" in f for f in files)
    assert held.where(~F.col(S.SOURCE_FILE).contains(F.concat(F.lit("dt="), F.col(S.DT).cast("string")))).count() == 0


def test_rerunning_a_date_leaves_events_and_its_metrics_identical(spark: SparkSession, dirty_json: Path) -> None:
    before = delta(spark, dirty_json, S.EVENTS_TABLE).collect()
    quality = actual_quality(spark, dirty_json)

    # day 5 holds late events of earlier dates and duplicates of day 4's events
    assert mtlrec("ingest", dirty_json, "ingest.dates=[2026-11-05]") == 0

    after = delta(spark, dirty_json, S.EVENTS_TABLE)
    assert after.count() == len(before)
    assert after.exceptAll(spark.createDataFrame(before, after.schema)).count() == 0
    assert actual_quality(spark, dirty_json) == quality


@pytest.mark.parametrize(("fmt", "compression"), [("csv", "bzip2"), ("parquet", "none")])
def test_csv_and_parquet_logs_are_accounted_for_just_as_well(
    spark: SparkSession, tmp_path: Path, fmt: str, compression: str
) -> None:
    options = [f"generate.format={fmt}", f"generate.compression={compression}", "generate.events=1200"]
    assert mtlrec("generate", tmp_path, *DIRTY, *options) == 0
    assert mtlrec("ingest", tmp_path, f"input.format={fmt}") == 0

    manifest = storage.read_json(manifest_path(f"{tmp_path}/raw"))
    assert actual_quality(spark, tmp_path) == expected_quality(manifest, fmt)


def test_a_taobao_log_ingests_through_its_mapping(spark: SparkSession, tmp_path: Path) -> None:
    day = dt.datetime(2017, 12, 3, tzinfo=dt.UTC)
    second = int(day.timestamp())
    lines = [
        f"1,100,7,pv,{second + 60}",
        f"1,100,7,pv,{second + 60}",  # re-sent
        f"1,100,7,cart,{second + 90}",
        f"1,100,7,fav,{second + 95}",  # no canonical type
        f"2,200,8,buy,{second - 86400 * 2}",  # two days late
        f"3,300,9,pv,{second + 86400 * 365}",  # a year ahead
        "4,400,9,pv",  # a field short
    ]
    folder = tmp_path / "taobao" / "dt=2017-12-03"
    folder.mkdir(parents=True)
    (folder / "part-0.csv").write_text("\n".join(lines[:4]) + "\n")
    (folder / "part-1.csv.gz").write_bytes(gzip.compress(("\n".join(lines[4:]) + "\n").encode()))

    code = mtlrec("ingest", tmp_path, f"input.path={tmp_path}/taobao", "input.format=csv", "input.mapping=taobao")

    assert code == 0
    events = delta(spark, tmp_path, S.EVENTS_TABLE)
    assert sorted((r[S.USER_ID], r[S.EVENT_TYPE], r[S.DT].isoformat()) for r in events.collect()) == [
        ("1", "cart", "2017-12-03"),
        ("1", "click", "2017-12-03"),
        ("2", "purchase", "2017-12-01"),
    ]
    (quality,) = delta(spark, tmp_path, S.DQ_METRICS_TABLE).collect()
    assert (quality[S.READ], quality[S.CLEAN], quality[S.DUPLICATES], quality[S.LATE]) == (7, 3, 1, 1)
    assert {k: v for k, v in quality[S.QUARANTINED_BY_REASON].items() if v} == {
        "ignored_event_type": 1,
        "timestamp_out_of_range": 1,
        "malformed_csv": 1,
    }


def test_a_csv_with_a_header_is_read_by_column_name(spark: SparkSession, tmp_path: Path) -> None:
    header = "price,event_type,user_id,item_id,ts,event_id,category_id"
    rows = ["9.5,click,u1,i1,2026-11-01T10:00:00Z,e1,c1", "1.0,impression,u2,i2,2026-11-01T11:00:00Z,e2,"]
    folder = tmp_path / "raw" / "dt=2026-11-01"
    folder.mkdir(parents=True)
    for i, row in enumerate(rows):
        (folder / f"part-{i}.csv").write_text(f"{header}\n{row}\n")

    assert mtlrec("ingest", tmp_path, "input.format=csv", "input.header=true") == 0

    events = delta(spark, tmp_path, S.EVENTS_TABLE).orderBy(S.EVENT_ID).collect()
    assert [(r[S.EVENT_ID], r[S.USER_ID], r[S.PRICE], r[S.CATEGORY_ID]) for r in events] == [
        ("e1", "u1", 9.5, "c1"),
        ("e2", "u2", 1.0, None),
    ]
    (quality,) = delta(spark, tmp_path, S.DQ_METRICS_TABLE).collect()
    assert (quality[S.READ], quality[S.CLEAN]) == (2, 2)


def _json_log(tmp_path: Path, day: str, records: list[dict[str, Any]]) -> None:
    folder = tmp_path / "raw" / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_declared_fields_are_kept_typed_checked_and_their_gaps_counted(spark: SparkSession, tmp_path: Path) -> None:
    base = {"ts": "2026-11-01T10:00:00Z", "user_id": "u1", "item_id": "i1", "event_type": "impression", "price": 2.0}
    records = [
        {**base, "event_id": "e1", "device": "app", "position": 3, "brand_id": "b1"},
        {**base, "event_id": "e2", "device": "app", "position": "top", "brand_id": "b1"},  # a string slot
        {**base, "event_id": "e3", "device": 7, "position": 1, "brand_id": "b1"},  # a number for a category
        {**base, "event_id": "e4", "position": 2, "brand_id": "b2"},  # no device
        {**base, "event_id": "e5", "device": "web", "brand_id": " "},  # no slot, a blank brand
    ]
    _json_log(tmp_path, "2026-11-01", records)
    # first with the plain mapping, then again declaring the fields: events gains their columns
    assert mtlrec("ingest", tmp_path) == 0
    assert mtlrec("ingest", tmp_path, "input.mapping=mtlrec_realistic") == 0

    events = delta(spark, tmp_path, S.EVENTS_TABLE)
    assert events.schema["device"].dataType.simpleString() == "string"
    assert events.schema["position"].dataType.simpleString() == "double"
    rows = sorted((r[S.EVENT_ID], r["device"], r["position"], r["brand_id"]) for r in events.collect())
    assert rows == [("e1", "app", 3.0, "b1"), ("e4", None, 2.0, "b2"), ("e5", "web", None, None)]
    (quality,) = delta(spark, tmp_path, S.DQ_METRICS_TABLE).collect()
    assert {k: v for k, v in quality[S.QUARANTINED_BY_REASON].items() if v} == {
        "bad_type:position": 1,
        "bad_type:device": 1,
    }
    assert quality[S.MISSING_BY_FIELD] == {"device": 1, "brand_id": 1, "position": 1}
    summary = storage.read_json(f"{tmp_path}/runs/latest.json")
    assert summary["metrics"]["ingest"]["missing"] == {"brand_id": 1, "device": 1, "position": 1}


def test_a_csv_slot_that_is_not_a_number_is_quarantined_naming_it(spark: SparkSession, tmp_path: Path) -> None:
    mapping = tmp_path / "slots.yaml"
    mapping.write_text(
        "fields: [event_id, ts, user_id, item_id, event_type, slot]\n"
        "columns: {event_id: event_id, ts: ts, user_id: user_id, item_id: item_id, event_type: event_type}\n"
        "event_types: {impression: impression}\n"
        "numeric: [slot]\n"
    )
    folder = tmp_path / "raw" / "dt=2026-11-01"
    folder.mkdir(parents=True)
    (folder / "part-0.csv").write_text(
        "e1,2026-11-01T10:00:00Z,u1,i1,impression,2\n"
        "e2,2026-11-01T10:00:00Z,u1,i1,impression,second\n"
        "e3,2026-11-01T10:00:00Z,u1,i1,impression,NaN\n"
        "e4,2026-11-01T10:00:00Z,u1,i1,impression,\n"
    )

    assert mtlrec("ingest", tmp_path, "input.format=csv", f"input.mapping={mapping}") == 0

    events = delta(spark, tmp_path, S.EVENTS_TABLE).orderBy(S.EVENT_ID).collect()
    assert [(r[S.EVENT_ID], r["slot"]) for r in events] == [("e1", 2.0), ("e4", None)]
    (quality,) = delta(spark, tmp_path, S.DQ_METRICS_TABLE).collect()
    assert quality[S.QUARANTINED_BY_REASON]["bad_type:slot"] == 2
    assert quality[S.MISSING_BY_FIELD] == {"slot": 1}


def test_a_wrong_mapping_stops_the_run_before_anything_is_generated(tmp_path: Path, capsys: Any) -> None:
    mapping = tmp_path / "wrong.yaml"
    mapping.write_text(storage.read_bytes("mtlrec/mappings/mtlrec_realistic.yaml").decode() + "numeric: [hue]\n")

    code = main(
        ["run", "--conf", "conf/local.yaml", "--set", f"paths.root={tmp_path}", "--set", f"input.mapping={mapping}"]
    )

    assert code == 2
    assert f"{mapping}" in capsys.readouterr().err
    assert not (tmp_path / "raw").exists() and not (tmp_path / "tables").exists()
