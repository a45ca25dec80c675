"""`input` and `ingest` settings: where the raw logs are, how to read and clean them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mtlrec.checks import at_least

FORMATS = ("json", "csv", "parquet")


@dataclass(frozen=True)
class InputConfig:
    """Where the raw logs are and how to read them."""

    path: str = ""  # empty: <root>/raw, where `generate` writes; any Hadoop URI
    format: str = "json"  # json (lines), csv or parquet; .gz/.bz2 files are decompressed
    mapping: str = "mtlrec"  # a shipped mapping (mtlrec/mappings/), conf/mappings/<name>.yaml, or a path
    header: bool = False  # csv: the first line of every file names the columns
    separator: str = ","  # csv

    def checks(self) -> list[tuple[bool, str]]:
        return [
            (self.format in FORMATS, f"input.format must be one of {FORMATS}, got {self.format!r}"),
            (len(self.separator) == 1, f"input.separator must be one character, got {self.separator!r}"),
            (self.mapping != "", "input.mapping must name a mapping"),
        ]


@dataclass(frozen=True)
class IngestConfig:
    dates: tuple[dt.date, ...] = ()  # run dates (dt= folders); empty: every folder present
    date_range: tuple[dt.date, ...] = ()  # [first, last]: every folder in between, inclusive
    late_days: int = 3  # events up to this many days older than their folder are kept (late)
    clock_skew_minutes: int = 10  # events this far past the folder's day are still kept
    dedup_lookback_days: int = 7  # event ids already in `events` this many days back are duplicates
    bot_events_per_minute: int = 60  # a user above this in any minute of a folder is a bot
    max_price: float = 100_000.0
    max_id_length: int = 256  # a longer id (user, item, event, category) is quarantined as id_too_long
    # quarantined / read above this fails the run date before anything is written (1.0: off)
    max_quarantine_share: float = 1.0

    def checks(self) -> list[tuple[bool, str]]:
        return [
            (
                len(self.date_range) in (0, 2) and list(self.date_range) == sorted(self.date_range),
                "ingest.date_range must be [first, last] with first <= last",
            ),
            (not (self.dates and self.date_range), "give ingest.dates or ingest.date_range, not both"),
            *at_least("ingest", self, ("late_days", "clock_skew_minutes", "dedup_lookback_days"), minimum=0),
            (self.bot_events_per_minute >= 1, "ingest.bot_events_per_minute must be >= 1"),
            (self.max_price > 0.0, "ingest.max_price must be > 0"),
            # a late event re-sent in a later folder must still find its stored copy
            (
                self.dedup_lookback_days >= self.late_days,
                f"ingest.dedup_lookback_days ({self.dedup_lookback_days}) must be >= ingest.late_days "
                f"({self.late_days}), or re-sent late events are stored twice",
            ),
            (self.max_id_length >= 1, "ingest.max_id_length must be >= 1"),
            (0.0 <= self.max_quarantine_share <= 1.0, "ingest.max_quarantine_share must be in [0, 1] (1: off)"),
        ]
