"""Data-quality accounting: counts per run date, wrong-format files, the balance check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mtlrec import schema as S
from mtlrec.ingest.quality import balance_errors, commit_errors, dq_rows, per_day, share_errors, unreadable_files
from mtlrec.ingest.transforms import DUPLICATE, RECORDS

DAY, NEXT = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


def row(day: dt.date, file: str, reason: str | None, n: int, *, duplicate: bool = False, late: bool = False) -> Any:
    return {S.SOURCE_DT: day, S.SOURCE_FILE: file, S.REASON: reason, DUPLICATE: duplicate, S.LATE: late, RECORDS: n}


TALLY = [
    row(DAY, "a", None, 10),
    row(DAY, "a", None, 2, late=True),
    row(DAY, "a", None, 3, duplicate=True),
    row(DAY, "a", "bot", 120),
    row(DAY, "b", "empty_line", 1),
    row(NEXT, "c", None, 5),
]


def test_per_day_counts_read_clean_late_duplicates_and_each_reason() -> None:
    days = per_day(TALLY, [DAY, NEXT])

    assert (days[DAY].read, days[DAY].clean, days[DAY].late, days[DAY].duplicates) == (136, 12, 2, 3)
    assert days[DAY].quarantined == {"bot": 120, "empty_line": 1}
    assert (days[NEXT].read, days[NEXT].clean, sum(days[NEXT].quarantined.values())) == (5, 5, 0)


def test_a_file_without_a_single_valid_record_is_named() -> None:
    tally = [
        *TALLY,
        row(DAY, "csv-in-json", "malformed_json", 7),
        row(DAY, "csv-in-json", "bad_encoding", 1),
        row(DAY, "csv-in-json", "empty_line", 1),
    ]

    (message,) = unreadable_files(tally, "json")

    assert message.startswith("csv-in-json: none of its 8 records is a valid json event (mostly malformed_json)")


def test_a_file_of_bots_or_empty_lines_is_not_in_a_wrong_format() -> None:
    tally = [*TALLY, row(DAY, "bots-only", "bot", 240), row(DAY, "blank", "empty_line", 2)]

    assert unreadable_files(tally, "json") == []


def test_balance_names_the_numbers_of_a_day_that_does_not_add_up() -> None:
    days = per_day(TALLY, [DAY, NEXT])

    assert balance_errors(days, clean={DAY: 12, NEXT: 5}, quarantined={DAY: 121}) == []
    errors = balance_errors(days, clean={DAY: 11, NEXT: 5}, quarantined={DAY: 121})
    assert errors == ["2026-11-01: read 136 != clean 11 + duplicates 3 + quarantined 121 (= 135)"]


def test_dq_rows_list_every_reason_with_zeros() -> None:
    days = per_day(TALLY, [DAY, NEXT])

    first, _ = dq_rows(days, reasons=("empty_line", "bot", "bad_price"), run_id="r1")

    assert first == (DAY, 136, 12, 3, 121, 2, {"empty_line": 1, "bot": 120, "bad_price": 0}, "r1", {})


def test_a_commit_that_stored_other_than_what_went_in_is_named() -> None:
    assert commit_errors("/t/events", sent=7, stored=7) == []
    (message,) = commit_errors("/t/events", sent=7, stored=5)
    assert "/t/events" in message and "7" in message and "5" in message


def test_a_date_quarantining_more_than_the_max_share_is_named_with_its_top_reason() -> None:
    days = per_day(TALLY, [DAY, NEXT])

    assert share_errors(days, max_share=0.5) == ["2026-11-01: 89.0% of 136 records quarantined (max 50.0%), mostly bot"]
    assert share_errors(days, max_share=1.0) == []  # off
    assert share_errors(per_day([], [DAY]), max_share=0.0) == []  # nothing read, nothing to judge
