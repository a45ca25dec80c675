"""Format by format: raw lines (or Parquet rows) -> the log's own fields, one row each.

Every parser returns the same columns: `src` (a struct of the mapping's fields as the
log has them), `raw` (the record's text, as valid UTF-8), `source_file`, `dt` (the run
date: the dt folder) and `reason` (null, or why the record could not be parsed).
Nothing is dropped: one row comes out per line (or row) that went in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.ingest import arrow_json
from mtlrec.mapping import Mapping

VALUE = "value"  # the column of spark.read.text
SRC = "src"
TEXT = "text"  # a line worth parsing (null when it is empty or not UTF-8)
_ERROR = "parse_error"

EMPTY_LINE = "empty_line"
BAD_ENCODING = "bad_encoding"
BAD_TYPE = arrow_json.BAD_TYPE
bad_field = arrow_json.bad_field  # the reason of a declared field of the wrong type


def malformed(fmt: str) -> str:
    """The reason of a record that is not one record of `fmt` (malformed_json, ...)."""
    return f"malformed_{fmt}"


def drop_lines(lines: DataFrame, *, line: str) -> DataFrame:
    """The lines but those equal to `line` (a CSV header, repeated atop every file)."""
    return lines.where(F.col(VALUE) != F.lit(line)).select(VALUE, S.SOURCE_FILE, S.DT)


def check_lines(lines: DataFrame) -> DataFrame:
    """Name the lines no parser should see: empty ones and those that are not UTF-8.

    Input: `value`, `source_file`, `dt`. Output: `text` (the line, null if rejected),
    `raw` (only for a rejected line, with invalid bytes replaced so it can be stored),
    `source_file`, `dt`, `reason`.
    """
    tested = lines.select(
        VALUE,
        S.SOURCE_FILE,
        S.DT,
        F.is_valid_utf8(VALUE).alias("_utf8"),
        (F.btrim(VALUE, F.lit(" \t\r")) == F.lit("")).alias("_blank"),
    )
    utf8, blank = F.col("_utf8"), F.col("_blank")
    return tested.select(
        F.when(utf8 & ~blank, F.col(VALUE)).alias(TEXT),
        F.when(~utf8, F.make_valid_utf8(VALUE)).when(blank, F.col(VALUE)).alias(S.RAW),
        S.SOURCE_FILE,
        S.DT,
        F.when(~utf8, F.lit(BAD_ENCODING)).when(blank, F.lit(EMPTY_LINE)).alias(S.REASON),
    )


def _ddl_type(field: pa.Field) -> str:
    return "DOUBLE" if pa.types.is_floating(field.type) else "STRING"


def _json_parser(schema: pa.Schema, named: tuple[str, ...]) -> Callable[[Column], Column]:
    """An Arrow UDF: lines -> struct of the fields and `parse_error`.

    A scalar UDF, not mapInArrow: only the lines cross to Python and only the parsed
    fields come back; the other columns stay in the JVM.
    """
    names = [*schema.names, _ERROR]
    returns = ", ".join([*(f"{quoted(f.name)} {_ddl_type(f)}" for f in schema), f"{quoted(_ERROR)} STRING"])

    def parse_json(text: pa.Array) -> pa.Array:
        rows, errors = arrow_json.parse_lines(text, schema, named)
        return pa.StructArray.from_arrays([*(c.combine_chunks() for c in rows.columns), errors], names=names)

    # a scalar UDF by its type hints; pyspark's stubs only type the deprecated functionType form
    parser: Callable[[Column], Column] = F.arrow_udf(parse_json, returns)  # type: ignore[call-overload]
    return parser


def parse_json_lines(lines: DataFrame, *, mapping: Mapping) -> DataFrame:
    """JSON lines, parsed by pyarrow on the executors (`arrow_json`).

    A declared numeric field must hold a JSON number; a declared categorical one a
    string (or a number, when the mapping lists it in `numbers`). A value of another
    type quarantines the line as `bad_type:<field>`.
    """
    schema = arrow_json.arrow_schema(mapping.fields, (*mapping.numbers, *mapping.numeric))
    checked = check_lines(lines)
    parsed = checked.select("*", _json_parser(schema, mapping.declared)(F.col(TEXT)).alias("json"))
    verdict = F.col("json").getField(_ERROR)
    error = F.when(verdict == F.lit(arrow_json.MALFORMED), F.lit(malformed("json"))).when(
        verdict.startswith(F.lit(BAD_TYPE)), verdict
    )
    src = F.struct(*[F.col("json").getField(f).alias(f) for f in schema.names])
    return parsed.select(
        src.alias(SRC),
        F.coalesce(F.col(TEXT), F.col(S.RAW)).alias(S.RAW),
        S.SOURCE_FILE,
        S.DT,
        F.coalesce(F.col(S.REASON), error).alias(S.REASON),
    )


def quoted(name: str) -> str:
    """`name` as a quoted identifier for a DDL string or a column path: any text is safe."""
    return "`" + name.replace("`", "``") + "`"


def _positional_ddl(count: int) -> str:
    # fields named by position, not by a header's text, which may hold anything
    return ", ".join(f"_c{i} STRING" for i in range(count))


def field_count(text: Column, separator: str) -> Column:
    """Fields of a delimited line: separators outside double quotes, plus one."""
    unquoted = F.when(F.instr(text, '"') > 0, F.regexp_replace(text, '"[^"]*"', "")).otherwise(text)
    separators = F.length(unquoted) - F.length(F.replace(unquoted, F.lit(separator), F.lit("")))
    return separators + F.lit(1)


def parse_csv_lines(lines: DataFrame, *, mapping: Mapping, columns: Sequence[str], separator: str) -> DataFrame:
    """Delimited lines whose fields are `columns`, in order (quotes as in RFC 4180).

    A line with fewer or more fields than `columns`, or an unclosed quote, is malformed;
    an empty field is null.
    """
    checked = check_lines(lines)
    options = {"sep": separator, "escape": '"', "mode": "PERMISSIVE"}
    parsed = checked.select("*", F.from_csv(F.col(TEXT), _positional_ddl(len(columns)), options).alias("csv"))
    # an unclosed quote would swallow the fields after it into one
    odd_quotes = (F.length(F.col(TEXT)) - F.length(F.replace(F.col(TEXT), F.lit('"'), F.lit("")))) % F.lit(2) == 1
    wrong_count = (field_count(F.col(TEXT), separator) != F.lit(len(columns))) | odd_quotes
    position = {c: i for i, c in enumerate(columns)}
    src = F.struct(*[F.col("csv").getField(f"_c{position[f]}").alias(f) for f in mapping.fields])
    reason = F.coalesce(F.col(S.REASON), F.when(wrong_count, F.lit(malformed("csv"))))
    raw = F.coalesce(F.col(TEXT), F.col(S.RAW))
    return parsed.select(src.alias(SRC), raw.alias(S.RAW), S.SOURCE_FILE, S.DT, reason.alias(S.REASON))


def parquet_records(rows: DataFrame, *, mapping: Mapping) -> DataFrame:
    """Parquet rows with the mapping's fields (typed as the files have them).

    Input: the files' columns plus `source_file` and `dt`. `raw` is the row as JSON.
    """
    src: Column = F.struct(*[F.col(quoted(f)) for f in mapping.fields])
    return rows.select(
        src.alias(SRC),
        F.to_json(src).alias(S.RAW),
        S.SOURCE_FILE,
        S.DT,
        F.lit(None).cast("string").alias(S.REASON),
    )
