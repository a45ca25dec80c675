"""Pure transforms of the ingest stage: raw lines -> validated, de-duplicated events.

A line is valid or has exactly one quarantine reason, the first rule it breaks in
the order of `REASONS`. Nothing is dropped silently: every line read is either an
event, a duplicate of an event, or a quarantine row.
"""

from __future__ import annotations

import operator
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from mtlrec import schema as S

_CORRUPT = "_corrupt_record"
_PARSE_SCHEMA = T.StructType(S.RAW_SCHEMA.fields + [T.StructField(_CORRUPT, T.StringType())])

# quarantine reasons, in the order the rules are checked
EMPTY_LINE = "empty_line"
MALFORMED_JSON = "malformed_json"
BAD_TYPE = "bad_type"
MISSING_EVENT_ID = "missing_event_id"
MISSING_USER_ID = "missing_user_id"
MISSING_ITEM_ID = "missing_item_id"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
BAD_TIMESTAMP = "bad_timestamp"
BAD_PRICE = "bad_price"

_LINE = "value"  # spark.read.text names its one column so


def _missing(col: str) -> Column:
    return F.col(col).isNull() | (F.trim(F.col(col)) == F.lit(""))


def parse_json_lines(lines: DataFrame) -> DataFrame:
    """Parse `value` (one JSON object per line) and name what is wrong with each line.

    Input columns: `value`, `source_file`, `dt`. Output: the raw-schema fields, `ts`
    parsed to a timestamp, `raw`, `source_file`, `dt` and `reason` (null when valid).
    """
    parsed = F.from_json(F.col(_LINE), _PARSE_SCHEMA, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT})
    with_json = lines.select(F.col(_LINE), S.SOURCE_FILE, S.DT, parsed.alias("j"))
    ts = F.try_to_timestamp(F.col(f"j.{S.TS}"))
    has_fields = reduce(operator.or_, [F.col(f"j.{c}").isNotNull() for c in S.RAW_SCHEMA.fieldNames()])
    corrupt = F.col(f"j.{_CORRUPT}").isNotNull()
    rules: list[tuple[Column, str]] = [
        (F.trim(F.col(_LINE)) == F.lit(""), EMPTY_LINE),
        (F.col("j").isNull() | ~has_fields, MALFORMED_JSON),
        (corrupt, BAD_TYPE),
        (_missing(f"j.{S.EVENT_ID}"), MISSING_EVENT_ID),
        (_missing(f"j.{S.USER_ID}"), MISSING_USER_ID),
        (_missing(f"j.{S.ITEM_ID}"), MISSING_ITEM_ID),
        (~F.col(f"j.{S.EVENT_TYPE}").isin(*S.EVENT_TYPES) | F.col(f"j.{S.EVENT_TYPE}").isNull(), UNKNOWN_EVENT_TYPE),
        (ts.isNull(), BAD_TIMESTAMP),
        (F.col(f"j.{S.PRICE}") < F.lit(0.0), BAD_PRICE),
    ]
    reason: Column = F.lit(None).cast("string")
    for broken, name in reversed(rules):
        reason = F.when(broken, F.lit(name)).otherwise(reason)
    return with_json.select(
        F.col(f"j.{S.EVENT_ID}").alias(S.EVENT_ID),
        ts.alias(S.TS),
        F.col(f"j.{S.USER_ID}").alias(S.USER_ID),
        F.col(f"j.{S.ITEM_ID}").alias(S.ITEM_ID),
        F.col(f"j.{S.EVENT_TYPE}").alias(S.EVENT_TYPE),
        F.col(f"j.{S.CATEGORY_ID}").alias(S.CATEGORY_ID),
        F.col(f"j.{S.PRICE}").alias(S.PRICE),
        F.col(S.DT),
        F.col(_LINE).alias(S.RAW),
        F.col(S.SOURCE_FILE),
        reason.alias(S.REASON),
    )


def quarantine(parsed: DataFrame) -> DataFrame:
    """The lines that broke a rule, with their raw text, file and reason."""
    return parsed.where(F.col(S.REASON).isNotNull()).select(S.DT, S.SOURCE_FILE, S.RAW, S.REASON)


def valid_events(parsed: DataFrame) -> DataFrame:
    """The lines that broke no rule, in the events schema (duplicates still in)."""
    return parsed.where(F.col(S.REASON).isNull()).select(*S.EVENTS_SCHEMA.fieldNames())


def drop_duplicates(events: DataFrame) -> DataFrame:
    """One row per `event_id`: the earliest by (ts, dt), so re-runs keep the same row.

    Every column takes part in the order, so which copy survives never depends on the
    order rows arrive in.
    """
    earliest_first = (
        Window.partitionBy(S.EVENT_ID)
        .orderBy(*[F.col(c).asc_nulls_last() for c in S.EVENTS_SCHEMA.fieldNames() if c != S.EVENT_ID])
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    return (
        events.withColumn("_n", F.row_number().over(earliest_first))
        .where(F.col("_n") == F.lit(1))
        .select(*S.EVENTS_SCHEMA.fieldNames())
    )
