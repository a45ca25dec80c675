"""Hostile input, run through the real ingest (Spark, Delta): every record gets a verdict.

Each kind of bad or odd record (or file) is one `Case` in a table: what it is, the
bytes written, and its outcome, a quarantine reason or `CLEAN` or `DUPLICATE`. Many
kinds share one input folder and one ingest run; the test finds each record again by
its marker (`case07`) and checks its outcome, then that `read = clean + duplicates +
quarantined` for every run date. A file-level fault fails the run naming the file and
writes nothing. `outcomes_table()` renders the table for a reader.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.cli import main
from mtlrec.ingest.transforms import reasons

# every hostile record through the parsers of each format
pytestmark = pytest.mark.slow

CLEAN, DUPLICATE = "clean", "duplicate"
DAY, NEXT = "2026-11-01", "2026-11-02"
MARKER = re.compile(r"case\d\d")
DEEP = "[" * 5000 + "]" * 5000
BIG = 10 * 1024 * 1024  # 10 MB
FIELDS = ("event_id", "ts", "user_id", "item_id", "event_type", "category_id", "price")


@dataclass(frozen=True)
class Case:
    kind: str  # what is odd about the record or file
    data: bytes  # the line as written (without its line break), or a whole file
    outcome: str  # CLEAN, DUPLICATE or the quarantine reason
    file: str = "main.json"  # the file of the run date's folder it is written to
    day: str = DAY
    stored: dict[str, Any] = field(default_factory=dict)  # columns a clean event must have
    whole_file: bool = False  # `data` is the file's entire content


def record(marker: str, **fields: Any) -> dict[str, Any]:
    """A valid event of `DAY` with `fields` changed (None: the field is left out)."""
    minute = int(marker[-2:]) % 60
    base = {"event_id": marker, "ts": f"{DAY}T10:{minute:02d}:00Z", "user_id": "u1", "item_id": "i1"}
    base |= {"event_type": "click", "category_id": "c1", "price": 9.5}
    return {k: v for k, v in (base | fields).items() if v is not None}


def js(marker: str, **fields: Any) -> bytes:
    return json.dumps(record(marker, **fields)).encode()


def raw_json(marker: str, text: str, **fields: Any) -> bytes:
    """A valid record with hand-written JSON text (not Python's) added at its end."""
    return js(marker, **fields)[:-1] + b", " + text.encode() + b"}"


JSON_CASES = [
    Case("a valid record", js("case01"), CLEAN),
    Case("nested 5,000 deep in an id", raw_json("case02", f'"item_id": {DEEP}', item_id=None), "bad_type"),
    Case("nested 5,000 deep in an unknown field", raw_json("case03", f'"extra": {DEEP}'), CLEAN),
    Case(
        "a raw NUL byte inside a string", js("case04", user_id="u\x00").replace(b"\\u0000", b"\x00"), "malformed_json"
    ),
    Case("an escaped NUL (\\u0000) in an id", js("case05", user_id="u\x00"), "bad_id"),
    Case("invalid UTF-8 bytes", js("case06", user_id="u\xff").replace(b"\\u00ff", b"\xff"), "bad_encoding"),
    Case("a 10 MB line (an unknown field)", raw_json("case07", json.dumps({"pad": "x" * BIG})[1:-1]), CLEAN),
    Case("a 10 MB id", js("case08", user_id="u" * BIG), "id_too_long"),
    Case("leading and trailing spaces in an id", js("case09", user_id="  u9 "), CLEAN, stored={S.USER_ID: "u9"}),
    Case("non-breaking spaces around an id", js("case10", user_id="\u00a0u10\u3000"), CLEAN, stored={S.USER_ID: "u10"}),
    Case("tabs and a line feed around an id", js("case11", item_id="\ti11\n"), CLEAN, stored={S.ITEM_ID: "i11"}),
    Case("a tab inside an id", js("case12", user_id="u\t12"), "bad_id"),
    Case("an id of whitespace only", js("case13", user_id=" \u00a0\t "), "missing_user_id"),
    Case("a DEL control character in a category id", js("case14", category_id="c\x7f"), "bad_id"),
    Case("a zero-width space inside an id (kept)", js("case15", user_id="u\u200b15"), CLEAN),
    Case("an id of exactly max_id_length (256)", js("case16", item_id="i" * 256), CLEAN),
    Case("an id one longer than max_id_length", js("case17", item_id="i" * 257), "id_too_long"),
    Case("a price as a string", js("case18", price="9.5"), "bad_type"),
    Case("an id as a number", js("case19", user_id=19), "bad_type"),
    Case("a NaN price", raw_json("case20", '"price": NaN', price=None), "bad_price"),
    Case("an Infinity price", raw_json("case21", '"price": Infinity', price=None), "bad_price"),
    Case("a negative price", js("case22", price=-1.0), "bad_price"),
    Case("a price of 400 digits (inf)", raw_json("case23", '"price": ' + "9" * 400, price=None), "bad_price"),
    Case("a price of 1e400 (no double)", raw_json("case24", '"price": 1e400', price=None), "bad_type"),
    Case("a timestamp in 1970", js("case25", ts="1970-01-01T00:00:00Z"), "timestamp_out_of_range"),
    Case("a timestamp in year 1", js("case26", ts="0001-01-01T00:00:00Z"), "timestamp_out_of_range"),
    Case("a timestamp in 9999", js("case27", ts="9999-12-31T23:59:59Z"), "timestamp_out_of_range"),
    Case("an unparsable timestamp", js("case28", ts="yesterday"), "bad_timestamp"),
    Case(
        "a +02:00 offset, converted to UTC",
        js("case29", ts=f"{DAY}T12:00:00+02:00"),
        CLEAN,
        stored={S.TS: "2026-11-01 10:00:00", S.DT: dt.date(2026, 11, 1)},
    ),
    Case(
        "a +02:00 offset on the next local day, in the run date in UTC",
        js("case30", ts=f"{NEXT}T01:00:00+02:00"),
        CLEAN,
        stored={S.TS: "2026-11-01 23:00:00", S.DT: dt.date(2026, 11, 1)},
    ),
    Case("a duplicate key in one object", raw_json("case31", '"user_id": "u2"'), "malformed_json"),
    Case("an event type in another case (Click)", js("case32", event_type="Click"), "unknown_event_type"),
    Case("an event type with a space", js("case33", event_type=" click"), "unknown_event_type"),
    Case("two objects on one line", js("case34") + b" " + js("case34"), "malformed_json"),
    Case("a JSON array", b'["case35"]', "malformed_json"),
    Case("an object of no known field", b'{"case36": 1}', "malformed_json"),
    Case("a lone surrogate escape", raw_json("case37", '"user_id": "\\ud800"', user_id=None), "malformed_json"),
    Case("a truncated line", js("case38")[:40], "malformed_json"),
    Case("no event id", js("case39", event_id=None, user_id="case39"), "missing_event_id"),
    Case("a valid record, then", js("case40"), CLEAN),
    Case("the same record re-sent in the same file", js("case40"), DUPLICATE),
    Case("the same record re-sent in the next day's folder", js("case40"), DUPLICATE, day=NEXT, file="next.json"),
    Case("an empty line", b"", "empty_line"),
    Case("a line of spaces and a tab", b"  \t ", "empty_line"),
    Case("a UTF-8 BOM atop a file: the first line", b"\xef\xbb\xbf" + js("case41"), CLEAN, file="bom.json"),
    Case("CRLF line endings", js("case42") + b"\r", CLEAN, file="crlf.json"),
    Case("CRLF line endings, second line", js("case43") + b"\r", CLEAN, file="crlf.json"),
    Case("a file of one line break, beside good files", b"\n", "empty_line", file="empty.json", whole_file=True),
    Case("a zero-byte file, beside good files (no record)", b"", "", file="zero.json", whole_file=True),
    Case("a valid record in the next day's folder", js("case44", ts=f"{NEXT}T10:00:00Z"), CLEAN, day=NEXT),
]


def write_cases(folder: Path, cases: list[Case]) -> None:
    files: dict[Path, list[bytes]] = {}
    for case in cases:
        path = folder / f"dt={case.day}" / case.file
        path.parent.mkdir(parents=True, exist_ok=True)
        if case.whole_file:
            path.write_bytes(case.data)
        else:
            files.setdefault(path, []).append(case.data)
    for path, lines in files.items():
        path.write_bytes(b"\n".join(lines) + b"\n")


def ingest(root: Path, *overrides: str) -> int:
    sets = [a for o in (f"paths.root={root}", *overrides) for a in ("--set", o)]
    return main(["ingest", "--conf", "conf/local.yaml", "--new-run", *sets])


def failure(root: Path, capsys: pytest.CaptureFixture[str], *overrides: str) -> str:
    """Run an ingest that must fail; its one line of error, with nothing written."""
    assert ingest(root, *overrides) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("mtlrec: ingest failed: ")
    assert not (root / "tables" / S.EVENTS_TABLE).exists()
    assert not (root / "tables" / S.QUARANTINE_TABLE).exists()
    return last


def table(spark: SparkSession, root: Path, name: str) -> list[Any]:
    """A table's rows, timestamps as UTC text (a Python datetime would be local time)."""
    rows = spark.read.format("delta").load(f"{root}/tables/{name}")
    if S.TS in rows.columns:
        rows = rows.withColumn(S.TS, F.date_format(S.TS, "yyyy-MM-dd HH:mm:ss"))
    return rows.collect()


def key(raw: str) -> str:
    """A quarantined record's marker, or its raw text if it has none."""
    found = MARKER.search(raw)
    return found.group(0) if found else raw


def case_key(case: Case) -> str:
    text = case.data.decode("utf-8", errors="replace").removeprefix("\ufeff").rstrip("\r\n")
    return key(text)


def assert_outcomes(spark: SparkSession, root: Path, cases: list[Case], fmt: str) -> None:
    """Every case's record has its outcome, and every run date balances."""
    events = {r[S.EVENT_ID]: r for r in table(spark, root, S.EVENTS_TABLE)}
    held = Counter((r[S.REASON], key(r[S.RAW])) for r in table(spark, root, S.QUARANTINE_TABLE))
    expected_held = Counter((c.outcome, case_key(c)) for c in cases if c.outcome not in (CLEAN, DUPLICATE, ""))
    assert held == expected_held
    clean = [c for c in cases if c.outcome == CLEAN]
    assert sorted(events) == sorted(case_key(c) for c in clean)
    for case in clean:
        assert {k: events[case_key(case)][k] for k in case.stored} == case.stored, case.kind
    for row in table(spark, root, S.DQ_METRICS_TABLE):
        outcomes = Counter(c.outcome for c in cases if c.day == row[S.DT].isoformat() and c.outcome)
        assert row[S.READ] == outcomes.total() == row[S.CLEAN] + row[S.DUPLICATES] + row[S.QUARANTINED]
        assert (row[S.CLEAN], row[S.DUPLICATES]) == (outcomes[CLEAN], outcomes[DUPLICATE])
        assert set(row[S.QUARANTINED_BY_REASON]) == set(reasons(fmt))  # every reason, zeros too


def share_message(cases: list[Case], day: str, max_share: float) -> str:
    """What ingest.max_quarantine_share must say of `day`, from the table."""
    outcomes = Counter(c.outcome for c in cases if c.day == day and c.outcome)
    held = Counter({o: n for o, n in outcomes.items() if o not in (CLEAN, DUPLICATE)})
    read, top = outcomes.total(), held.most_common(1)[0][0]
    share = held.total() / read
    return f"{day}: {share:.1%} of {read:,} records quarantined (max {max_share:.1%}), mostly {top}"


def test_json_every_hostile_record_gets_its_verdict(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cases(tmp_path / "raw", JSON_CASES)

    # too much quarantined: the run fails before it writes anything
    message = failure(tmp_path, capsys, "ingest.max_quarantine_share=0.2")
    assert message.endswith(share_message(JSON_CASES, DAY, 0.2))

    assert ingest(tmp_path) == 0
    assert_outcomes(spark, tmp_path, JSON_CASES, "json")


HEADER = b"event_id,ts,user_id,item_id,event_type,category_id,price,no`te"  # a backtick: no DDL breaks


def csv_line(marker: str, *, extra: str = "n", **fields: Any) -> bytes:
    """A CSV row of the fields in HEADER's order, with `extra` for the no`te column."""
    values = record(marker, **fields)
    return ",".join([*(str(values.get(f, "")) for f in FIELDS), extra]).encode()


CSV_CASES = [
    Case("a UTF-8 BOM atop a CSV file: the header is recognised", b"\xef\xbb\xbf" + HEADER + b"\r", "", file="a.csv"),
    Case("CRLF line endings, after the BOM-marked header", csv_line("case50") + b"\r", CLEAN, file="a.csv"),
    Case("a field short", csv_line("case51").rsplit(b",", 1)[0] + b"\r", "malformed_csv", file="a.csv"),
    Case("a field too many", csv_line("case52", extra="n,more") + b"\r", "malformed_csv", file="a.csv"),
    Case("the header of a second file, same columns", HEADER, "", file="b.csv"),
    Case(
        "a quoted separator",
        csv_line("case53", category_id='"c,53"'),
        CLEAN,
        file="b.csv",
        stored={S.CATEGORY_ID: "c,53"},
    ),
    Case(
        "an escaped quote",
        csv_line("case54", category_id='"c""54"'),
        CLEAN,
        file="b.csv",
        stored={S.CATEGORY_ID: 'c"54'},
    ),
    Case("a NaN price in CSV", csv_line("case55", price="NaN"), "bad_price", file="b.csv"),
    Case("a price that is no number", csv_line("case56", price="abc"), "bad_type", file="b.csv"),
    Case("a -Infinity price", csv_line("case57", price="-Infinity"), "bad_price", file="b.csv"),
    Case("an empty user id field", csv_line("case58", user_id=""), "missing_user_id", file="b.csv"),
    Case("spaces around an id", csv_line("case59", user_id=" u59 "), CLEAN, file="b.csv", stored={S.USER_ID: "u59"}),
    Case("an empty line in CSV", b"", "empty_line", file="b.csv"),
    Case("an unbalanced quote", csv_line("case60", category_id='"c60'), "malformed_csv", file="b.csv"),
]


def test_csv_every_hostile_record_gets_its_verdict(spark: SparkSession, tmp_path: Path) -> None:
    write_cases(tmp_path / "raw", CSV_CASES)

    assert ingest(tmp_path, "input.format=csv", "input.header=true") == 0

    assert_outcomes(spark, tmp_path, CSV_CASES, "csv")


FAILS = "the run fails naming the file, nothing written"
REORDERED = Case(
    "a second CSV file with user_id and item_id swapped in its header",
    HEADER.replace(b"user_id,item_id", b"item_id,user_id"),
    FAILS,
    file="c.csv",
)
TRUNCATED_GZIP = Case(
    "a truncated gzip file beside a good file",
    gzip.compress(js("case81") * 200)[:60],
    FAILS,
    file="cut.json.gz",
    whole_file=True,
)


def test_csv_a_second_file_with_a_reordered_header_fails_naming_it(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cases(tmp_path / "raw", [*CSV_CASES, REORDERED])

    message = failure(tmp_path, capsys, "input.format=csv", "input.header=true")

    assert re.search(r"dt=2026-11-01/c\.csv: header .*item_id,user_id.* differs from .* atop .*/a\.csv", message)


def test_a_truncated_gzip_fails_its_run_date_naming_the_file(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cases(tmp_path / "raw", [Case("a good file", js("case80"), CLEAN, file="good.json"), TRUNCATED_GZIP])

    message = failure(tmp_path, capsys)

    assert f"dt={DAY}/cut.json.gz" in message and "cannot read" in message


def write_parquet(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


PARQUET = pa.schema([(f, pa.float64() if f == "price" else pa.string()) for f in FIELDS])
# Parquet rows are written by the tests below; `data` is unused
PARQUET_CASES = [
    Case("a Parquet row", b"", CLEAN, file="a.parquet"),
    Case("a NaN price in Parquet", b"", "bad_price", file="a.parquet"),
    Case("a second Parquet file lacking the optional category_id column", b"", CLEAN, file="b.parquet"),
    Case("a Parquet file lacking the user_id column (none of its records valid)", b"", FAILS, file="c.parquet"),
    Case("a second Parquet file with price typed as a string", b"", FAILS, file="b.parquet"),
]


def test_parquet_files_lacking_a_column(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row, nan_price, lacking_category, lacking_user, _ = PARQUET_CASES
    folder = tmp_path / "raw" / f"dt={DAY}"
    write_parquet(folder / "a.parquet", [record("case70"), record("case71", price=float("nan"))], PARQUET)
    without = {name: pa.schema([f for f in PARQUET if f.name != name]) for name in ("category_id", "user_id")}
    write_parquet(folder / "b.parquet", [record("case72", category_id=None)], without["category_id"])
    write_parquet(folder / "c.parquet", [record("case73", user_id=None)], without["user_id"])

    message = failure(tmp_path, capsys, "input.format=parquet")
    assert lacking_user.outcome == FAILS
    assert f"dt={DAY}/c.parquet: none of its 1 records is a valid parquet event (mostly missing_user_id)" in message

    (folder / "c.parquet").unlink()
    assert ingest(tmp_path, "input.format=parquet") == 0

    events = {r[S.EVENT_ID]: r[S.CATEGORY_ID] for r in table(spark, tmp_path, S.EVENTS_TABLE)}
    held = {(key(r[S.RAW]), r[S.REASON]) for r in table(spark, tmp_path, S.QUARANTINE_TABLE)}
    assert row.outcome == lacking_category.outcome == CLEAN and events == {"case70": "c1", "case72": None}
    assert held == {("case71", nan_price.outcome)}


def test_parquet_a_file_with_a_differently_typed_column_fails_naming_it(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "raw" / f"dt={DAY}"
    write_parquet(folder / "a.parquet", [record("case74")], PARQUET)
    as_text = pa.schema([(f.name, pa.string()) for f in PARQUET])
    write_parquet(folder / "b.parquet", [record("case75", price="9.5")], as_text)

    message = failure(tmp_path, capsys, "input.format=parquet")

    assert PARQUET_CASES[-1].outcome == FAILS and f"dt={DAY}/b.parquet" in message


TABLE = [*JSON_CASES, *CSV_CASES, REORDERED, TRUNCATED_GZIP, *PARQUET_CASES]


def outcomes_table(cases: list[Case] = TABLE) -> str:
    """The kinds tried and each one's outcome, as a Markdown table."""
    rows = ["| format | kind | outcome |", "|---|---|---|"]
    for case in cases:
        fmt = "json" if ".json" in case.file else case.file.rsplit(".", 1)[-1]
        rows.append(f"| {fmt} | {case.kind} | {case.outcome or 'not a record'} |")
    return "\n".join(rows)


def test_the_table_names_every_kind_once_with_its_outcome() -> None:
    kinds = [c.kind for c in TABLE]
    known = {CLEAN, DUPLICATE, FAILS, "", *reasons("json"), *reasons("csv")}

    assert len(kinds) == len(set(kinds)) >= 30
    assert {c.outcome for c in TABLE} <= known
    assert outcomes_table().count("\n| ") == len(TABLE)
