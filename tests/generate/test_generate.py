"""The generator: realistic shape, exactly the dirt it says, and the same log for a seed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.generate import dirt, logs, render
from mtlrec.generate.config import DirtConfig, GenerateConfig
from mtlrec.generate.draws import choice

SMALL = GenerateConfig(events=4000, users=300, items=200, partitions=2, bot_users=2)
LAST = SMALL.start_date + dt.timedelta(days=SMALL.days - 1)


def test_choice_picks_each_name_at_its_weight_and_nothing_past_them(spark: SparkSession) -> None:
    u = (F.col("id") + F.lit(0.5)) / F.lit(1000.0)  # an even grid over (0, 1)

    picked = spark.range(1000).select(choice(u, {"a": 0.1, "b": 0.0, "c": 0.25}).alias("k"))

    counts = {r["k"]: r["count"] for r in picked.groupBy("k").count().collect()}
    assert counts == {"a": 100, "c": 250, None: 650}


def test_sessions_are_heavy_tailed_and_the_same_for_a_seed(spark: SparkSession) -> None:
    imps = logs.sessions(spark, SMALL)
    again = logs.sessions(spark, SMALL)

    for key in ("u", "i"):  # the most active user, the most shown item: many times the mean
        counts = [r["count"] for r in imps.groupBy(key).count().collect()]
        assert max(counts) > 5 * sum(counts) / len(counts)
    assert imps.exceptAll(again).count() == 0 and again.exceptAll(imps).count() == 0


def funnel(spark: SparkSession) -> DataFrame:
    return logs.funnel(logs.impressions(spark, SMALL), cfg=SMALL)


def test_some_purchases_land_on_a_later_date_than_their_click(spark: SparkSession) -> None:
    events = funnel(spark).withColumn("imp", F.regexp_extract(S.EVENT_ID, r"^ev-(\d+-\d+)-", 1))
    clicks = events.where(F.col(S.EVENT_TYPE) == S.CLICK).select("imp", F.col(S.DT).alias("click_dt"))
    buys = events.where(F.col(S.EVENT_TYPE) == S.PURCHASE).join(clicks, on="imp", how="inner")

    assert buys.count() > 0
    assert buys.where(F.col(S.DT) > F.col("click_dt")).count() > 0
    assert events.where(F.col(S.DT) > F.lit(LAST)).count() == 0


def test_bots_send_bursts_of_events_within_one_minute(spark: SparkSession) -> None:
    bots = logs.bot_events(spark, dataclasses.replace(SMALL, dirt=DirtConfig(bot=0.06)))

    minutes = bots.groupBy(S.USER_ID, F.date_trunc("minute", F.to_timestamp(S.TS)).alias("m")).count()
    assert {r["count"] for r in minutes.collect()} <= {logs.BOT_BURST, 2 * logs.BOT_BURST}
    assert bots.count() == 2 * logs.BOT_BURST
    users = {r[S.USER_ID] for r in bots.select(S.USER_ID).distinct().collect()}
    assert users <= {f"u{SMALL.users}", f"u{SMALL.users + 1}"}


def test_dirt_is_planted_at_its_rate_and_each_line_gets_one_kind(spark: SparkSession) -> None:
    rates = {"duplicate": 0.1, "late": 0.1, "missing_user_id": 0.05}
    events = funnel(spark)

    lines = dirt.assign(events, seed=1, rates=rates, last_day=LAST)

    kinds = {r[dirt.KIND]: r["count"] for r in lines.groupBy(dirt.KIND).count().collect()}
    n = events.count()
    assert lines.count() == n + kinds["duplicate"]
    assert abs(kinds["duplicate"] / n - 0.1) < 0.02 and abs(kinds["missing_user_id"] / n - 0.05) < 0.02
    # late lines go 1-2 days later, never past the last day; re-sent copies 0-1 day
    folder = F.col(S.DT)
    own = F.to_date(S.TS)
    late = lines.where(F.col(dirt.KIND) == dirt.LATE)
    assert late.where((F.datediff(folder, own) < 1) | (F.datediff(folder, own) > 2) | (folder > LAST)).count() == 0
    resent = lines.where(F.col(dirt.KIND) == dirt.DUPLICATE)
    assert resent.where(F.datediff(folder, own) > 1).count() == 0
    assert lines.where((F.col(dirt.KIND) == dirt.CLEAN) & (folder != own)).count() == 0


def test_event_rates_leave_line_level_dirt_out_of_parquet() -> None:
    assert set(dirt.event_rates(DirtConfig(), "json")) == set(dirt.event_rates(DirtConfig(), "parquet")) | set(
        dirt.LINE_KINDS
    )
    assert "bot" not in dirt.event_rates(DirtConfig(), "csv")


def one_row_per_kind(spark: SparkSession, kinds: list[str]) -> DataFrame:
    row = ("ev-1-0-click", "2026-11-03T10:00:00.000Z", "u1", "i1", "click", "c1", 20.5, dt.date(2026, 11, 3))
    return spark.createDataFrame(
        [(*row, kind) for kind in kinds],
        "event_id string, ts string, user_id string, item_id string, event_type string, category_id string, "
        "price double, dt date, kind string",
    )


def test_field_dirt_breaks_exactly_its_field(spark: SparkSession) -> None:
    rows = one_row_per_kind(spark, [dirt.CLEAN, *dirt.FIELD_KINDS])

    spoiled = {r[dirt.KIND]: r for r in dirt.spoil_fields(rows).collect()}

    clean = spoiled.pop(dirt.CLEAN).asDict()
    changed = {
        kind: {k for k, v in r.asDict().items() if v != clean[k] and k != dirt.KIND} for kind, r in spoiled.items()
    }
    assert changed == {
        "missing_event_id": {S.EVENT_ID},
        "missing_user_id": {S.USER_ID},
        "missing_item_id": {S.ITEM_ID},
        "unknown_event_type": {S.EVENT_TYPE},
        "negative_price": {S.PRICE},
        "absurd_price": {S.PRICE},
        "ts_far_past": {S.TS},
        "ts_far_future": {S.TS},
    }
    assert spoiled["ts_far_past"][S.TS] == "1996-11-03T10:00:00.000Z"


def test_line_dirt_in_json_and_csv(spark: SparkSession) -> None:
    rows = one_row_per_kind(spark, [dirt.CLEAN, *dirt.LINE_KINDS])

    for lines in (render.json_lines(rows, seed=3), render.csv_lines(rows, seed=3)):
        by_kind = {
            r[dirt.KIND]: (r[render.VALUE], r["utf8"])
            for r in lines.withColumn("utf8", F.is_valid_utf8(render.VALUE)).collect()
        }
        clean, _ = by_kind[dirt.CLEAN]
        truncated, _ = by_kind["truncated"]
        assert clean.startswith(truncated) and 0 < len(truncated) < len(clean)
        assert by_kind["non_utf8"][1] is False
        assert by_kind["empty_line"][0] == ""
        assert "n/a" in by_kind["wrong_type"][0]
    json_clean = render.json_lines(rows, seed=3).where(F.col(dirt.KIND) == dirt.CLEAN).first()
    assert json_clean is not None and json.loads(json_clean[render.VALUE])["price"] == 20.5
    csv_cut = render.csv_lines(rows, seed=3).where(F.col(dirt.KIND) == "truncated").first()
    assert csv_cut is not None and csv_cut[render.VALUE].count(",") < 6
