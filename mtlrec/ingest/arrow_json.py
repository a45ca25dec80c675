"""JSON lines -> typed Arrow columns, with pyarrow's C++ reader and one verdict per line.

Strict where Spark's JSON parser is lenient: two objects on a line, trailing text, a
number or an object where the mapping expects a string are all errors, so nothing is
dropped or coerced silently. pyarrow fails a batch at its first bad line, naming the
row: so a batch is read in segments between bad lines, and only a bad line is read
(and judged) on its own. Good lines cost about two parses at worst; a batch with many
bad lines is judged line by line in Python and its good lines read in one call.

No Spark here: the functions take and return Arrow arrays, so they are tested
directly and run in an Arrow UDF on the executors.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

MALFORMED = "malformed"  # not one JSON object
BAD_TYPE = "bad_type"  # a JSON object with a field of the wrong type
_COLUMN = re.compile(r"Column\(/([^)]*)\)")
_UNDECIDED = "undecided"  # Python could not judge the line: pyarrow does
_ROW = re.compile(r"in row (\d+)")
_MAX_SEGMENT_ERRORS = 16  # more bad lines than this in a batch: read the rest line by line
_TOO_BIG = object()  # a number literal too big for a double


def arrow_schema(fields: Sequence[str], numbers: Sequence[str]) -> pa.Schema:
    """Every field a string, but `numbers` as doubles."""
    return pa.schema([(f, pa.float64() if f in numbers else pa.string()) for f in fields])


def _read(data: pa.Buffer, schema: pa.Schema) -> pa.Table:
    # one block, one thread: the row a failure names is the line of the segment
    return pj.read_json(
        pa.BufferReader(data),
        read_options=pj.ReadOptions(use_threads=False, block_size=max(data.size + 1, 1 << 16)),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )


def bad_field(name: str) -> str:
    """The verdict of a line whose declared field `name` has the wrong type."""
    return f"{BAD_TYPE}:{name}"


def _verdict(err: Exception, named: frozenset[str]) -> str:
    text = str(err)
    if "changed from" in text and "Column()" not in text:
        column = _COLUMN.search(text)
        return bad_field(column.group(1)) if column and column.group(1) in named else BAD_TYPE
    return BAD_TYPE if "Number too big" in text else MALFORMED


def _number(text: str) -> float | object:
    # pyarrow rejects a number literal beyond a double (1e400) as the wrong type, but
    # reads NaN, Infinity and a huge integer (as inf), which the price rule rejects
    value = float(text)
    return value if math.isfinite(value) else _TOO_BIG


def _fits(value: object, number: bool) -> bool:
    """Whether a JSON value has the type its field needs, as pyarrow sees it."""
    if number:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


class _Batch:
    """The non-null lines of one batch, joined by newlines, read segment by segment."""

    def __init__(self, texts: pa.Array, schema: pa.Schema, named: frozenset[str]):
        joined = pc.binary_join_element_wise(texts, "", "\n")  # every line + "\n"
        offset_type = np.int64 if pa.types.is_large_string(joined.type) else np.int32
        offsets = np.frombuffer(joined.buffers()[1], dtype=offset_type)
        self.offsets = offsets[joined.offset : joined.offset + len(joined) + 1]
        self.data = joined.buffers()[2]
        self.texts = texts
        self.schema = schema
        self.named = named  # fields whose wrong type the verdict names
        self.numbers = {f.name: pa.types.is_floating(f.type) for f in schema}  # field -> holds a number
        self.pieces: list[tuple[np.ndarray, pa.Table]] = []  # (line numbers, their rows)
        self.errors: dict[int, str] = {}

    def segment(self, start: int, stop: int) -> pa.Table:
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        return _read(self.data.slice(lo, hi - lo), self.schema)

    def keep(self, lines: np.ndarray, table: pa.Table | None) -> bool:
        """Keep `table` as the rows of `lines` if it has one row per line."""
        if table is None or table.num_rows != len(lines):
            return False
        self.pieces.append((lines, table))
        return True

    def single(self, i: int) -> None:
        try:
            table = self.segment(i, i + 1)
        except Exception as err:  # ArrowInvalid, or a UnicodeDecodeError of its message
            verdict = _verdict(err, self.named)
            if verdict == BAD_TYPE and self.named:  # pyarrow did not say which field: Python may
                named = self.judge(i)
                verdict = named if named and named.startswith(BAD_TYPE) else BAD_TYPE
            self.errors[i] = verdict
            return
        if not self.keep(np.array([i]), table):  # two objects on one line
            self.errors[i] = MALFORMED

    def clean_run(self, start: int, stop: int) -> None:
        """Lines `start:stop`, expected to parse: read at once, one by one if not."""
        if start == stop:
            return
        try:
            table = self.segment(start, stop)
        except Exception:
            table = None
        if not self.keep(np.arange(start, stop), table):
            for i in range(start, stop):
                self.single(i)

    def judge(self, i: int) -> str | None:
        """Python's verdict on line `i` (cheap next to a pyarrow call of its own).

        Never stricter than pyarrow, whose verdict on a line Python finds good or
        cannot judge (`_UNDECIDED`: nested too deep for Python's recursion) is final:
        every line gets a verdict, whatever it holds.
        """
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        try:
            obj = json.loads(self.data.slice(lo, hi - lo).to_pybytes(), parse_float=_number)
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            return MALFORMED
        except Exception:  # RecursionError (nested too deep) or whatever else: pyarrow judges
            return _UNDECIDED
        if not isinstance(obj, dict):
            return MALFORMED
        for name, number in self.numbers.items():
            value = obj.get(name)
            if value is not None and not _fits(value, number):
                return bad_field(name) if name in self.named else BAD_TYPE
        return None

    def one_by_one(self, start: int, stop: int) -> None:
        """Judge each line in Python, then read all the good ones with one pyarrow call."""
        good = []
        for i in range(start, stop):
            verdict = self.judge(i)
            if verdict is None:
                good.append(i)
            elif verdict == _UNDECIDED:
                self.single(i)
            else:
                self.errors[i] = verdict
        if not good:
            return
        lines = np.array(good, dtype=np.int64)
        try:
            table = _Batch(self.texts.take(pa.array(lines)), self.schema, self.named).segment(0, len(lines))
        except Exception:
            table = None
        if not self.keep(lines, table):  # pyarrow and Python disagree: let pyarrow judge
            for i in good:
                self.single(i)

    def read_all(self) -> None:
        start, stop = 0, len(self.offsets) - 1
        while start < stop:
            if len(self.errors) > _MAX_SEGMENT_ERRORS:
                self.one_by_one(start, stop)
                return
            try:
                table = self.segment(start, stop)
            except Exception as err:
                found = _ROW.search(str(err))
                bad = start + int(found.group(1)) if found else stop
                if bad >= stop:
                    self.one_by_one(start, stop)
                    return
                self.clean_run(start, bad)
                self.single(bad)
                start = bad + 1
                continue
            if not self.keep(np.arange(start, stop), table):
                self.one_by_one(start, stop)
            return


def parse_lines(lines: pa.Array, schema: pa.Schema, named: Sequence[str] = ()) -> tuple[pa.Table, pa.Array]:
    """Parse every non-null line as one JSON object with the fields of `schema`.

    Returns one row per line (all null for a null or bad line; fields the object lacks
    are null, fields `schema` lacks are ignored) and, per line, null or why it is bad:
    `MALFORMED`, `BAD_TYPE`, or `bad_field(name)` when the field of the wrong type is
    one of `named`.
    """
    trimmed = pc.ascii_trim_whitespace(lines)
    # a line not shaped like an object is judged without parsing (a file of another
    # format is all such lines)
    shaped = pc.fill_null(pc.and_(pc.starts_with(trimmed, "{"), pc.ends_with(trimmed, "}")), False)
    errors = np.full(len(lines), None, dtype=object)
    errors[np.asarray(lines.is_valid()) & ~np.asarray(shaped)] = MALFORMED
    present = np.flatnonzero(np.asarray(shaped))
    batch = _Batch(lines.take(pa.array(present, type=pa.int64())), schema, frozenset(named))
    batch.read_all()
    for i, verdict in batch.errors.items():
        errors[present[i]] = verdict
    error_array = pa.array(errors, type=pa.string())
    if not batch.pieces:
        return pa.table({f.name: pa.nulls(len(lines), f.type) for f in schema}, schema=schema), error_array
    parsed = pa.concat_tables([table for _, table in batch.pieces])
    where = np.full(len(lines), -1, dtype=np.int64)
    where[present[np.concatenate([numbers for numbers, _ in batch.pieces])]] = np.arange(parsed.num_rows)
    return parsed.take(pa.array(where, mask=where < 0)), error_array
