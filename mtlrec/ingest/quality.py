"""Data-quality accounting of an ingest: per run date, where every record went.

Counts come from the small `tally` of the marked records (read, duplicates, what
each reason got) and, independently, from the writes of the tables (clean events,
quarantine rows: counted on the rows going into each write, and checked against the
rows its Delta commit says it stored). `read = clean + duplicates + quarantined` must hold for every run
date; if it does not, the ingest fails naming the numbers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mtlrec import schema as S
from mtlrec.ingest.parse import EMPTY_LINE
from mtlrec.ingest.sources import IngestError
from mtlrec.ingest.transforms import BOT, DUPLICATE, RECORDS


@dataclass
class DayCounts:
    """What the marked records of one run date say."""

    read: int = 0
    duplicates: int = 0
    clean: int = 0
    late: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    missing: dict[str, int] = field(default_factory=dict)  # declared field -> clean events without it


def per_day(tally: Iterable[Mapping[str, Any]], dates: Sequence[dt.date]) -> dict[dt.date, DayCounts]:
    days = {d: DayCounts() for d in dates}
    for row in tally:
        day, n = days[row[S.SOURCE_DT]], int(row[RECORDS])
        day.read += n
        if row[S.REASON] is not None:
            day.quarantined[row[S.REASON]] += n
        elif row[DUPLICATE]:
            day.duplicates += n
        else:
            day.clean += n
            day.late += n if row[S.LATE] else 0
    return days


def unreadable_files(tally: Iterable[Mapping[str, Any]], fmt: str) -> list[str]:
    """One message per file none of whose records is a valid event.

    Such a file is in another format than configured, or its mapping is wrong: the run
    stops rather than quarantine it record by record. Empty lines and bots do not
    count either way (a file of bots, or of nothing, is not in a wrong format).
    """
    valid: Counter[str] = Counter()
    rejected: dict[str, Counter[str]] = {}
    for row in tally:
        name, reason, n = row[S.SOURCE_FILE], row[S.REASON], int(row[RECORDS])
        if reason is None:
            valid[name] += n
        elif reason not in (BOT, EMPTY_LINE):
            rejected.setdefault(name, Counter())[reason] += n
    messages = []
    for name, reasons in sorted(rejected.items()):
        if not valid[name]:
            reason, _ = reasons.most_common(1)[0]
            messages.append(
                f"{name}: none of its {sum(reasons.values())} records is a valid {fmt} event (mostly {reason});"
                " check input.format, input.header and input.mapping"
            )
    return messages


def share_errors(days: Mapping[dt.date, DayCounts], *, max_share: float) -> list[str]:
    """For each run date quarantining more than `max_share` of its records, the share.

    Checked on the tally, before anything is written: such a date writes nothing.
    """
    errors = []
    for day, counts in sorted(days.items()):
        held = sum(counts.quarantined.values())
        if counts.read and held / counts.read > max_share:
            reason, _ = counts.quarantined.most_common(1)[0]
            errors.append(
                f"{day}: {held / counts.read:.1%} of {counts.read:,} records quarantined"
                f" (max {max_share:.1%}), mostly {reason}"
            )
    return errors


def balance_errors(
    days: Mapping[dt.date, DayCounts], *, clean: Mapping[dt.date, int], quarantined: Mapping[dt.date, int]
) -> list[str]:
    """For each run date where read != clean + duplicates + quarantined, the numbers.

    `clean` and `quarantined` are counted in the tables as written.
    """
    errors = []
    for day, counts in sorted(days.items()):
        stored, held = clean.get(day, 0), quarantined.get(day, 0)
        if counts.read != stored + counts.duplicates + held:
            errors.append(
                f"{day}: read {counts.read} != clean {stored} + duplicates {counts.duplicates}"
                f" + quarantined {held} (= {stored + counts.duplicates + held})"
            )
    return errors


def commit_errors(path: str, *, sent: int, stored: int) -> list[str]:
    """A message if a write stored another number of rows than went into it."""
    if sent == stored:
        return []
    return [f"{path}: {sent} rows went into the write but its Delta commit stored {stored}"]


def dq_rows(days: Mapping[dt.date, DayCounts], *, reasons: Sequence[str], run_id: str) -> list[tuple[Any, ...]]:
    """Rows of `dq_metrics` (schema.DQ_METRICS_SCHEMA), every reason listed, zeros too."""
    return [
        (
            day,
            c.read,
            c.clean,
            c.duplicates,
            sum(c.quarantined.values()),
            c.late,
            {r: int(c.quarantined.get(r, 0)) for r in reasons},
            run_id,
            dict(c.missing),
        )
        for day, c in sorted(days.items())
    ]


def totals(days: Mapping[dt.date, DayCounts]) -> dict[str, Any]:
    """The run's counts over all its dates, for the run summary."""
    quarantined: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    for c in days.values():
        quarantined.update(c.quarantined)
        missing.update(c.missing)
    return {
        "dates": [d.isoformat() for d in sorted(days)],
        S.READ: sum(c.read for c in days.values()),
        S.CLEAN: sum(c.clean for c in days.values()),
        S.DUPLICATES: sum(c.duplicates for c in days.values()),
        S.LATE: sum(c.late for c in days.values()),
        S.QUARANTINED: dict(sorted(quarantined.items())),
        "missing": {f: missing[f] for f in sorted(missing)},
    }


def check(errors: Sequence[str], what: str) -> None:
    if errors:
        raise IngestError(f"{what}: " + "; ".join(errors))
