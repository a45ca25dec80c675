"""The pyarrow JSON-lines parser: one row and one verdict per line, whatever the mix."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from mtlrec.ingest import arrow_json
from mtlrec.ingest.arrow_json import BAD_TYPE, MALFORMED, arrow_schema, parse_lines

SCHEMA = arrow_schema(["event_id", "user_id", "price"], numbers=["price"])


def good(i: int) -> str:
    return json.dumps({"event_id": f"e{i}", "user_id": "u1", "price": 1.5, "unknown": [1, 2]})


BAD = {
    '{"event_id": "e1", "user_id': MALFORMED,  # truncated
    '{"event_id": "e1"} {"event_id": "e2"}': MALFORMED,  # two objects on a line
    '{"event_id": "e1"} trailing': MALFORMED,
    "[1, 2]": MALFORMED,
    "null": MALFORMED,
    "42": MALFORMED,
    "event_id,user_id,price": MALFORMED,  # another format
    '{"price": "n/a"}': BAD_TYPE,
    '{"price": true}': BAD_TYPE,
    '{"price": 1e400}': BAD_TYPE,
    '{"user_id": 123}': BAD_TYPE,
    '{"user_id": {"id": 1}}': BAD_TYPE,
    '{"user_id": ' + "[" * 5000 + "]" * 5000 + "}": BAD_TYPE,  # too deep for Python's json
    '{"other": ' + "[" * 5000 + "]" * 5000 + "}": None,  # ignored, however deep
    '{"user_id": "u1", "user_id": "u2"}': MALFORMED,  # which one? neither
    '{"user_id": "\\ud800"}': MALFORMED,  # a lone surrogate is no UTF-8 string
    '{"user_id": "u\x00"}': MALFORMED,  # a raw control character in a string
    '{"price": NaN}': None,  # the price rule rejects these three
    '{"price": -Infinity}': None,
    '{"price": ' + "9" * 400 + "}": None,  # inf
}


def mixed() -> tuple[list[str | None], list[str | None], list[str | None]]:
    """Good lines with a bad one (or a null) after each; the expected verdicts and ids."""
    lines: list[str | None] = []
    verdicts: list[str | None] = []
    ids: list[str | None] = []
    for i, (line, verdict) in enumerate([*BAD.items(), (None, None)]):
        lines += [good(i), line]
        verdicts += [None, verdict]
        ids += [f"e{i}", None]
    return lines, verdicts, ids


def test_every_bad_line_gets_its_verdict_and_every_good_line_its_row() -> None:
    lines, verdicts, ids = mixed()

    rows, errors = parse_lines(pa.array(lines, pa.string()), SCHEMA)

    assert errors.to_pylist() == verdicts
    assert rows.column("event_id").to_pylist() == ids
    assert rows.num_rows == len(lines)


def test_line_by_line_mode_gives_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    lines, _, _ = mixed()
    fast = parse_lines(pa.array(lines, pa.string()), SCHEMA)
    monkeypatch.setattr(arrow_json, "_MAX_SEGMENT_ERRORS", 0)

    slow = parse_lines(pa.array(lines, pa.string()), SCHEMA)

    assert slow[1].equals(fast[1])
    assert repr(slow[0].to_pylist()) == repr(fast[0].to_pylist())  # NaN == NaN in a repr


def test_fields_are_typed_missing_ones_null_and_numbers_may_be_integers() -> None:
    lines = ['{"event_id": "e1", "price": 3}', ' {"user_id": "u2"}  ', "{}"]

    rows, errors = parse_lines(pa.array(lines, pa.string()), SCHEMA)

    assert errors.null_count == 3
    assert rows.to_pylist() == [
        {"event_id": "e1", "user_id": None, "price": 3.0},
        {"event_id": None, "user_id": "u2", "price": None},
        {"event_id": None, "user_id": None, "price": None},
    ]


def test_a_batch_of_nothing_but_nulls_or_nothing_at_all() -> None:
    for lines in ([None, None], []):
        rows, errors = parse_lines(pa.array(lines, pa.string()), SCHEMA)

        assert rows.num_rows == len(lines) and rows.schema == SCHEMA
        assert errors.null_count == len(lines)


def test_a_declared_field_of_the_wrong_type_is_named_in_the_verdict() -> None:
    schema = arrow_schema(["event_id", "device", "position", "price"], numbers=["position", "price"])
    lines = [
        '{"event_id": "e1", "device": "app", "position": 2}',
        '{"event_id": "e2", "device": "app", "position": "top"}',
        '{"event_id": "e3", "device": 7, "position": 1}',
        '{"event_id": "e4", "device": "web", "position": 1e400}',
        '{"event_id": "e5", "price": "n/a"}',  # not declared: the plain verdict
    ]

    rows, verdicts = parse_lines(pa.array(lines), schema, named=["device", "position"])

    assert verdicts.to_pylist() == [None, "bad_type:position", "bad_type:device", "bad_type:position", BAD_TYPE]
    assert rows.column("position").to_pylist()[0] == 2.0
