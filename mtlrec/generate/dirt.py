"""The dirt of real logs, planted at configured rates, each line labelled with its kind.

Every event gets at most one kind of dirt, drawn from a hash of its id, so the
generator knows exactly how many lines of each kind it wrote (`kind`), and a test
can check that ingest found those and no others. Field-level dirt (a missing id, a
bad price) is applied here; line-level dirt (a truncated line, bytes that are not
UTF-8) depends on the text format and is applied when rendering (`render`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.generate.config import DirtConfig
from mtlrec.generate.draws import choice, uniform

KIND = "kind"  # column: what the line is (CLEAN or a kind of dirt)
CLEAN = "clean"
DUPLICATE = "duplicate"  # an exact copy of a clean line, in the same or the next dt folder
LATE = "late"  # a clean line in the folder 1-2 days after its timestamp
BOT = "bot"  # a clean-looking line of a bot user
FIELD_KINDS = (
    "missing_event_id",
    "missing_user_id",
    "missing_item_id",
    "unknown_event_type",
    "negative_price",
    "absurd_price",
    "ts_far_past",
    "ts_far_future",
)
LINE_KINDS = ("truncated", "wrong_type", "non_utf8", "empty_line")  # json and csv only
TEXT_FORMATS = ("json", "csv")
_FAR_PAST_YEAR, _FAR_FUTURE_YEAR = "1996", "2096"  # leap years, so every date stays a date


def event_rates(dirt: DirtConfig, fmt: str) -> dict[str, float]:
    """Rate of each per-event kind of dirt for output format `fmt` (bots come apart)."""
    rates = {k: v for k, v in dataclasses.asdict(dirt).items() if k != BOT}
    if fmt not in TEXT_FORMATS:
        rates = {k: v for k, v in rates.items() if k not in LINE_KINDS}
    return rates


def extra_fields(rows: DataFrame) -> list[str]:
    """The columns of `rows` beyond the raw schema, `dt` and `kind`, in their order."""
    known = {*S.RAW_SCHEMA.fieldNames(), S.DT, KIND}
    return [c for c in rows.columns if c not in known]


def assign(events: DataFrame, *, seed: int, rates: dict[str, float], last_day: dt.date) -> DataFrame:
    """Give every event its `kind` and its dt folder (`dt`); a duplicate becomes two rows.

    Columns other than the raw schema's and `dt` (a profile's context fields) ride along.

    A late event goes 1-2 days after its own date (or stays clean when that is past
    `last_day`); the re-sent copy of a duplicate goes into the same folder or the next.
    """
    key = F.col(S.EVENT_ID)
    drawn = F.coalesce(choice(uniform(seed, "dirt", key), rates), F.lit(CLEAN))
    late_by = F.lit(1) + F.floor(uniform(seed, "late_by", key) * F.lit(2)).cast("int")
    late_folder = F.date_add(F.col(S.DT), late_by)
    kind = F.when((drawn == F.lit(LATE)) & (late_folder > F.lit(last_day)), F.lit(CLEAN)).otherwise(drawn)
    resend_next = (uniform(seed, "resend", key) < F.lit(0.5)) & (F.col(S.DT) < F.lit(last_day))
    resend_folder = F.when(resend_next, F.date_add(F.col(S.DT), 1)).otherwise(F.col(S.DT))

    def copy(kind: Column, folder: Column) -> Column:
        return F.struct(kind.alias(KIND), folder.alias("folder"))

    copies = (
        F.when(kind == F.lit(DUPLICATE), F.array(copy(F.lit(CLEAN), F.col(S.DT)), copy(kind, resend_folder)))
        .when(kind == F.lit(LATE), F.array(copy(kind, late_folder)))
        .otherwise(F.array(copy(kind, F.col(S.DT))))
    )
    # the raw fields, then any others of the profile (context fields), unchanged
    fields = [*S.RAW_SCHEMA.fieldNames(), *extra_fields(events)]
    return events.select(*fields, F.explode(copies).alias("c")).select(
        *fields, F.col("c.folder").alias(S.DT), F.col(f"c.{KIND}").alias(KIND)
    )


def spoil_fields(rows: DataFrame) -> DataFrame:
    """Apply the field-level kinds: drop an id, an unknown type, a bad price or year.

    Columns beyond the raw schema (context fields) are left as they are.
    """
    kind = F.col(KIND)

    def spoiled(column: str, changes: dict[str, Column]) -> Column:
        out = F.col(column)
        for name, value in changes.items():
            out = F.when(kind == F.lit(name), value).otherwise(out)
        return out.alias(column)

    null = F.lit(None).cast("string")
    return rows.select(
        spoiled(S.EVENT_ID, {"missing_event_id": null}),
        spoiled(
            S.TS,
            {
                "ts_far_past": F.concat(F.lit(_FAR_PAST_YEAR), F.substring(S.TS, 5, 100)),
                "ts_far_future": F.concat(F.lit(_FAR_FUTURE_YEAR), F.substring(S.TS, 5, 100)),
            },
        ),
        spoiled(S.USER_ID, {"missing_user_id": null}),
        spoiled(S.ITEM_ID, {"missing_item_id": null}),
        spoiled(S.EVENT_TYPE, {"unknown_event_type": F.lit("hover")}),
        F.col(S.CATEGORY_ID),
        spoiled(
            S.PRICE,
            {"negative_price": -F.col(S.PRICE) - F.lit(1.0), "absurd_price": F.col(S.PRICE) + F.lit(1e9)},
        ),
        *extra_fields(rows),
        S.DT,
        KIND,
    )
