"""Ingest end to end over real Spark and Delta: a generated dirty log, re-runs, Taobao.

The generator writes how many lines of each kind it planted (`_manifest.json`); the
ingest must find exactly those, reason by reason and run date by run date.
"""

from __future__ import annotations

import datetime as dt
import gzip
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
