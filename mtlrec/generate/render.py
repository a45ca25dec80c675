"""Render labelled raw events as the lines (or rows) of one output format.

Input: the raw-schema fields, any `extra` fields (a profile's context: written after
the raw ones, in JSON and Parquet), `dt` (the folder) and `kind`. Line-level kinds of dirt are applied here,
since what a broken line looks like depends on the format.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.generate.dirt import KIND
from mtlrec.generate.draws import uniform

VALUE = "value"  # the one column Spark's text writer writes
_NOT_UTF8 = "FF"  # a byte that never occurs in UTF-8


def _line_kinds(clean: Column, *, wrong_type: Column, cut_before: Column, bad_byte_at: int, seed: int) -> Column:
    """`clean` with the line-level kinds of dirt applied to the rows labelled so.

    A truncated line keeps a random prefix shorter than `cut_before` characters; a
    non-UTF-8 line has a stray byte after `bad_byte_at` characters.
    """
    kind = F.col(KIND)
    keep = F.lit(1) + F.floor(uniform(seed, "cut", F.col(S.DT), clean) * (cut_before - F.lit(1))).cast("int")
    not_utf8 = F.concat(
        F.substring(clean, 1, bad_byte_at),
        F.unhex(F.lit(_NOT_UTF8)).cast("string"),
        F.substring(clean, bad_byte_at + 1, 1 << 20),
    )
    return (
        F.when(kind == F.lit("truncated"), F.substring(clean, F.lit(1), keep))
        .when(kind == F.lit("wrong_type"), wrong_type)
        .when(kind == F.lit("non_utf8"), not_utf8)
        .when(kind == F.lit("empty_line"), F.lit(""))
        .otherwise(clean)
    )


def json_lines(rows: DataFrame, *, seed: int, extra: Sequence[str] = ()) -> DataFrame:
    """One JSON object per line (`value`), with `dt` and `kind`; absent fields are left out."""
    fields = [*S.RAW_SCHEMA.fieldNames(), *extra]
    clean = F.to_json(F.struct(*fields))
    wrong_type = F.to_json(F.struct(*[F.lit("n/a").alias(c) if c == S.PRICE else F.col(c) for c in fields]))
    value = _line_kinds(
        clean,
        wrong_type=wrong_type,
        cut_before=F.length(clean),
        bad_byte_at=len('{"event_id":"'),
        seed=seed,
    )
    return rows.select(value.alias(VALUE), S.DT, KIND)


def csv_lines(rows: DataFrame, *, seed: int, separator: str = ",") -> DataFrame:
    """Comma-separated lines in raw-schema order, no header; an absent field is empty.

    No extra fields: the mtlrec mapping reads a header-less CSV by position.
    """
    fields = S.RAW_SCHEMA.fieldNames()

    def joined(price: Column) -> Column:
        values = [price if c == S.PRICE else F.coalesce(F.col(c), F.lit("")) for c in fields]
        return F.concat_ws(separator, *values)

    price = F.coalesce(F.col(S.PRICE).cast("string"), F.lit(""))
    clean = joined(price)
    # cut before the last separator, so a truncated line always lacks a field
    value = _line_kinds(
        clean,
        wrong_type=joined(F.lit("n/a")),
        cut_before=F.length(clean) - F.length(price),
        bad_byte_at=2,
        seed=seed,
    )
    return rows.select(value.alias(VALUE), S.DT, KIND)


def parquet_rows(rows: DataFrame, *, extra: Sequence[str] = ()) -> DataFrame:
    """Rows in the raw schema (then `extra`), with `dt` and `kind` (line-level dirt does not exist here)."""
    return rows.select(*S.RAW_SCHEMA.fieldNames(), *extra, S.DT, KIND)
