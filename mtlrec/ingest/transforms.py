"""Pure transforms of the ingest stage: parsed records -> validated, de-duplicated events.

A record is valid or has exactly one quarantine reason, the first rule it breaks in
the order of `reasons()`. Nothing is dropped silently: every record read is an event,
a duplicate of an event, or a quarantine row.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.ingest.parse import BAD_ENCODING, BAD_TYPE, EMPTY_LINE, SRC, bad_field, malformed
from mtlrec.mapping import Mapping

DUPLICATE = "duplicate"  # column: a valid record whose key an earlier record already has
RECORDS = "records"  # column of `tally`

MISSING_EVENT_ID = "missing_event_id"
MISSING_USER_ID = "missing_user_id"
MISSING_ITEM_ID = "missing_item_id"
BAD_ID = "bad_id"  # an id holding a control character (a tab, a NUL, ...) once trimmed
ID_TOO_LONG = "id_too_long"  # an id longer than ingest.max_id_length characters
IGNORED_EVENT_TYPE = "ignored_event_type"  # a value the mapping lists under ignore_event_types
UNKNOWN_EVENT_TYPE = "unknown_event_type"
BAD_TIMESTAMP = "bad_timestamp"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
BAD_PRICE = "bad_price"
BOT = "bot"

# Unicode's White_Space characters, trimmed off both ends of every id: " u1" is "u1"
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
_CONTROL = r"\p{Cc}"  # a Java regexp: C0, DEL and C1 control characters


def reasons(fmt: str, declared: Sequence[str] = ()) -> tuple[str, ...]:
    """Every quarantine reason for input format `fmt` and the mapping's `declared`
    fields, in the order rules are checked."""
    return (
        EMPTY_LINE,
        BAD_ENCODING,
        malformed(fmt),
        BAD_TYPE,
        *[bad_field(f) for f in declared],
        MISSING_EVENT_ID,
        MISSING_USER_ID,
        MISSING_ITEM_ID,
        BAD_ID,
        ID_TOO_LONG,
        IGNORED_EVENT_TYPE,
        UNKNOWN_EVENT_TYPE,
        BAD_TIMESTAMP,
        TIMESTAMP_OUT_OF_RANGE,
        BAD_PRICE,
        BOT,
    )


def _source(mapping: Mapping, column: str) -> Column:
    field = mapping.source(column)
    return F.col(SRC).getField(field) if field else F.lit(None)


def _timestamp(value: Column, unit: str) -> Column:
    if unit == "iso8601":
        return F.try_to_timestamp(value.cast("string"))
    scale = 1.0 if unit == "epoch_seconds" else 1000.0
    seconds = value.try_cast("double") / F.lit(scale)
    # beyond +-3000 years a timestamp overflows; out of range anyway
    return F.when(F.abs(seconds) < F.lit(3.2e10), F.timestamp_micros((seconds * F.lit(1e6)).cast("long")))


def _category(value: Column, *, number: bool) -> Column:
    """A declared categorical value as a string; a JSON number (`number`) without its
    ".0" when whole; empty is null."""
    if number:
        value = F.when(value == F.floor(value), value.cast("long").cast("string")).otherwise(value.cast("string"))
    text = _trimmed(value.cast("string"))
    return F.when(text != F.lit(""), text)


def declared_columns(mapping: Mapping) -> list[Column]:
    """The mapping's declared fields as columns of `events`: categories as strings,
    numbers as doubles (null where the value does not convert: `validate` names it)."""
    src = F.col(SRC)
    categories = [_category(src.getField(f), number=f in mapping.numbers).alias(f) for f in mapping.categorical]
    return [*categories, *[src.getField(f).try_cast("double").alias(f) for f in mapping.numeric]]


def _event_type(value: Column, mapping: Mapping) -> Column:
    """The canonical type of a source value; null when the mapping does not map it."""
    (first, to), *rest = mapping.event_types.items()
    mapped = F.when(value == F.lit(first), F.lit(to))
    for source, canonical in rest:
        mapped = mapped.when(value == F.lit(source), F.lit(canonical))
    return mapped


def canonical(parsed: DataFrame, *, mapping: Mapping) -> DataFrame:
    """The log's fields as canonical columns (typed; null where they do not convert).

    Input: parsed records (`src`, `raw`, `source_file`, `dt` = run date, `reason`).
    Output adds the canonical columns, `source_dt` (the run date), `dt` (the event's
    own date) and the declared fields; `src` stays for the rules.
    """
    ids = {c: _trimmed(_source(mapping, c).cast("string")) for c in (S.EVENT_ID, S.USER_ID, S.ITEM_ID, S.CATEGORY_ID)}
    if mapping.derived_id:
        key = [ids.get(c, _source(mapping, c)).cast("string") for c in mapping.key]
        ids[S.EVENT_ID] = F.substring(F.sha2(F.concat_ws("\u001f", *key), 256), 1, 32)
    ts = _timestamp(_source(mapping, S.TS), mapping.timestamp)
    return parsed.select(
        ids[S.EVENT_ID].alias(S.EVENT_ID),
        ts.alias(S.TS),
        ids[S.USER_ID].alias(S.USER_ID),
        ids[S.ITEM_ID].alias(S.ITEM_ID),
        _event_type(_source(mapping, S.EVENT_TYPE).cast("string"), mapping).alias(S.EVENT_TYPE),
        ids[S.CATEGORY_ID].alias(S.CATEGORY_ID),
        _source(mapping, S.PRICE).try_cast("double").alias(S.PRICE),
        F.to_date(ts).alias(S.DT),
        F.col(S.DT).alias(S.SOURCE_DT),
        *declared_columns(mapping),
        SRC,
        S.RAW,
        S.SOURCE_FILE,
        S.REASON,
    )


def _trimmed(value: Column) -> Column:
    # a set of characters, not a regexp: trimming is a scan of each end
    return F.btrim(value, F.lit(WHITESPACE))


def _missing(column: str) -> Column:
    return F.col(column).isNull() | (F.col(column) == F.lit(""))


def validate(
    events: DataFrame,
    *,
    mapping: Mapping,
    fmt: str,
    late_days: int,
    clock_skew_minutes: int,
    max_price: float,
    max_id_length: int,
) -> DataFrame:
    """Name the first rule each canonical record breaks (`reason`), keep a parser's reason.

    An event may be up to `late_days` days older than its run date (late) and up to
    `clock_skew_minutes` past its end; outside that its timestamp is out of range. Ids
    (trimmed by `canonical`) may not hold control characters nor exceed
    `max_id_length` characters.
    """
    event_type = _source(mapping, S.EVENT_TYPE).cast("string")
    earliest = F.date_sub(F.col(S.SOURCE_DT), late_days).cast("timestamp")
    latest = F.date_add(F.col(S.SOURCE_DT), 1).cast("timestamp") + F.make_dt_interval(mins=F.lit(clock_skew_minutes))
    price = F.col(S.PRICE)
    fields = [F.col(SRC).getField(f).isNull() for f in mapping.fields]
    # the log's own ids (a derived event_id is a hash, short and clean)
    ids = [
        F.col(c) for c in (S.EVENT_ID, S.USER_ID, S.ITEM_ID, S.CATEGORY_ID) if c != S.EVENT_ID or not mapping.derived_id
    ]
    rules: list[tuple[Column, str]] = [
        (reduce(operator.and_, fields), malformed(fmt)),
        (_source(mapping, S.PRICE).isNotNull() & price.isNull(), BAD_TYPE),
        *[(_not_a_number(f), bad_field(f)) for f in mapping.numeric],
        (F.lit(not mapping.derived_id) & _missing(S.EVENT_ID), MISSING_EVENT_ID),
        (_missing(S.USER_ID), MISSING_USER_ID),
        (_missing(S.ITEM_ID), MISSING_ITEM_ID),
        (F.concat_ws("", *ids).rlike(_CONTROL), BAD_ID),  # one scan of all ids
        (F.greatest(*[F.length(c) for c in ids]) > F.lit(max_id_length), ID_TOO_LONG),
        (event_type.isin(*mapping.ignore_event_types), IGNORED_EVENT_TYPE),
        (F.col(S.EVENT_TYPE).isNull(), UNKNOWN_EVENT_TYPE),
        (F.col(S.TS).isNull(), BAD_TIMESTAMP),
        ((F.col(S.TS) < earliest) | (F.col(S.TS) >= latest), TIMESTAMP_OUT_OF_RANGE),
        (F.isnan(price) | (price < F.lit(0.0)) | (price > F.lit(max_price)), BAD_PRICE),
    ]
    # one CASE: its first true branch is the reason
    reason = F.when(F.col(S.REASON).isNotNull(), F.col(S.REASON))
    for broken, name in rules:
        reason = reason.when(broken, F.lit(name))
    return events.select(*[c for c in events.columns if c not in (SRC, S.REASON)], reason.alias(S.REASON))


def _not_a_number(field: str) -> Column:
    """A declared numeric field given, but not a finite number."""
    value = F.col(field)
    given = F.col(SRC).getField(field).isNotNull()
    return given & (value.isNull() | F.isnan(value) | (F.abs(value) == F.lit(float("inf"))))


def bot_users(events: DataFrame, *, max_per_minute: int) -> DataFrame:
    """(run date, user) pairs with more than `max_per_minute` valid records in a minute."""
    minute = F.floor(F.unix_seconds(F.col(S.TS)) / F.lit(60)).alias("minute")
    return (
        events.where(F.col(S.REASON).isNull())
        .groupBy(S.SOURCE_DT, S.USER_ID, minute)
        .agg(F.count(F.lit(1)).alias("n"))
        .where(F.col("n") > F.lit(max_per_minute))
        .select(S.SOURCE_DT, S.USER_ID)
        .distinct()
    )


def flag_bots(events: DataFrame, *, bots: DataFrame) -> DataFrame:
    """Quarantine (`bot`) every valid record of the (run date, user) pairs in `bots`."""
    flagged = events.join(bots.withColumn("_bot", F.lit(True)), on=[S.SOURCE_DT, S.USER_ID], how="left")
    reason = F.when(F.col(S.REASON).isNull() & F.col("_bot"), F.lit(BOT)).otherwise(F.col(S.REASON))
    return flagged.select(*[reason.alias(c) if c == S.REASON else F.col(c) for c in events.columns])


def drop_valid_raw(events: DataFrame) -> DataFrame:
    """Null the raw text of valid records: only quarantine keeps it (and it is the bulk)."""
    raw = F.when(F.col(S.REASON).isNotNull(), F.col(S.RAW))
    return events.select(*[raw.alias(c) if c == S.RAW else F.col(c) for c in events.columns])


def contested_ids(events: DataFrame, *, existing: DataFrame) -> DataFrame:
    """Ids of valid records that occur twice or more, or that `existing` already holds.

    `_prior` says the latter. A narrow aggregation of ids: finding the few duplicates
    does not shuffle whole records, and ids only `existing` holds are left out, so the
    result stays small (it is broadcast) however much earlier dates stored. Counting
    records that later turn out to be bots only adds ids `mark_duplicates` leaves alone
    (it ranks the valid records alone), so this need not wait for the bots.
    """
    ids = events.where(F.col(S.REASON).isNull()).select(S.EVENT_ID, F.lit(False).alias("_prior"))
    in_run = F.bool_or(~F.col("_prior"))
    return (
        ids.unionByName(existing.select(S.EVENT_ID, F.lit(True).alias("_prior")))
        .groupBy(S.EVENT_ID)
        .agg(F.count(F.lit(1)).alias("n"), F.max("_prior").alias("_prior"), in_run.alias("_in_run"))
        .where(F.col("_in_run") & ((F.col("n") > F.lit(1)) | F.col("_prior")))
        .select(S.EVENT_ID, "_prior")
    )


def mark_duplicates(events: DataFrame, *, contested: DataFrame, declared: Sequence[str] = ()) -> DataFrame:
    """Mark (`duplicate`) each valid record whose `event_id` an earlier one already has.

    `contested` (from `contested_ids`): the ids seen twice, and whether a stored copy
    exists (`_prior`), which makes every record of the id a duplicate. Otherwise the
    earliest by (ts, source_dt, then every other column) is kept, so which copy
    survives never depends on the order records arrive in. Quarantined records are
    never duplicates.
    """
    flagged = events.join(contested, on=S.EVENT_ID, how="left")
    disputed = F.col(S.REASON).isNull() & F.col("_prior").isNotNull()
    payload = [
        *(S.TS, S.SOURCE_DT, S.USER_ID, S.ITEM_ID, S.EVENT_TYPE, S.CATEGORY_ID, S.PRICE),
        *declared,
        *(S.SOURCE_FILE, S.RAW),
    ]
    first = (
        Window.partitionBy(S.EVENT_ID)
        .orderBy(*[F.col(c).asc_nulls_last() for c in payload])
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    ranked = flagged.where(disputed).withColumn(DUPLICATE, F.col("_prior") | (F.row_number().over(first) > F.lit(1)))
    plain = flagged.where(~disputed).withColumn(DUPLICATE, F.lit(False))
    return ranked.unionByName(plain).select(*events.columns, DUPLICATE)


def clean_events(marked: DataFrame, declared: Sequence[str] = ()) -> DataFrame:
    """The events to store: valid and not duplicates, in the stored events schema plus
    the mapping's `declared` fields."""
    keep = F.col(S.REASON).isNull() & ~F.col(DUPLICATE)
    return marked.where(keep).select(*S.STORED_EVENTS_SCHEMA.fieldNames(), *declared)


def quarantine(marked: DataFrame) -> DataFrame:
    """The records that broke a rule, with their raw text, file, reason and run date."""
    return marked.where(F.col(S.REASON).isNotNull()).select(
        F.col(S.SOURCE_DT).alias(S.DT), S.SOURCE_FILE, S.RAW, S.REASON
    )


def tally(marked: DataFrame) -> DataFrame:
    """Records per (run date, file, reason, duplicate, late): a result of fixed size."""
    late = F.col(S.REASON).isNull() & ~F.col(DUPLICATE) & (F.col(S.DT) < F.col(S.SOURCE_DT))
    keys = [S.SOURCE_DT, S.SOURCE_FILE, S.REASON, DUPLICATE, S.LATE]
    return (
        marked.withColumn(S.LATE, F.coalesce(late, F.lit(False)))
        .groupBy(*keys)
        .agg(F.count(F.lit(1)).alias(RECORDS))
        .select(*keys, RECORDS)
    )


def day_counts(dates: list[dt.date], *, run_date: str, late: bool = False, missing: Sequence[str] = ()) -> list[Column]:
    """Aggregates for `DataFrame.observe`: rows per run date, named by the date.

    `run_date` is the column holding it. With `late`, also the rows of each run date
    whose own `dt` is earlier (named by `late_name`); for each field of `missing`, the
    rows of each run date without a value (`missing_name`). Observed on a table's
    write, they count what was written without reading the table back.
    """
    counts = []
    for day in dates:
        of_day = F.col(run_date) == F.lit(day)
        counts.append(F.count_if(of_day).alias(day.isoformat()))
        if late:
            counts.append(F.count_if(of_day & (F.col(S.DT) < F.col(run_date))).alias(late_name(day)))
        counts += [F.count_if(of_day & F.col(f).isNull()).alias(missing_name(f, day)) for f in missing]
    return counts


def late_name(day: dt.date) -> str:
    return f"{S.LATE}_{day.isoformat()}"


def missing_name(field: str, day: dt.date) -> str:
    return f"missing:{field}:{day.isoformat()}"


def existing_ids(events: DataFrame, *, dates: list[dt.date], lookback_days: int) -> DataFrame:
    """Event ids stored by other run dates, in event dates a duplicate of `dates` may have."""
    first = min(dates) - dt.timedelta(days=lookback_days)
    last = max(dates) + dt.timedelta(days=1)
    return events.where(F.col(S.DT).between(F.lit(first), F.lit(last)) & ~F.col(S.SOURCE_DT).isin(*dates)).select(
        S.EVENT_ID
    )
