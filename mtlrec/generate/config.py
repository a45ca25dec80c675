"""`generate` settings: the size and shape of the generated log, and the dirt it plants."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from mtlrec.checks import at_least

FORMATS = ("json", "csv", "parquet")
COMPRESSIONS = ("gzip", "bzip2", "none")
# default: the demo's draws (logs.py); realistic: Zipf activity and popularity, context
# effects of device, slot position, brand and hour (realistic.py)
PROFILES = ("default", "realistic")


@dataclass(frozen=True)
class DirtConfig:
    """How much dirt `generate` plants, each kind as a fraction of the events.

    Every kind has its own rate so a test can plant exactly what it checks. Line-level
    kinds (truncated, wrong_type, non_utf8, empty_line) do not exist in Parquet.
    """

    duplicate: float = 0.004  # the same line sent again (same or next dt folder)
    late: float = 0.004  # written into a dt folder 1-2 days after its timestamp
    bot: float = 0.003  # lines from bot users, in bursts of 120 events a minute
    truncated: float = 0.0003
    wrong_type: float = 0.0003  # price "n/a"
    missing_event_id: float = 0.0003
    missing_user_id: float = 0.0003
    missing_item_id: float = 0.0003
    unknown_event_type: float = 0.0003
    negative_price: float = 0.0003
    absurd_price: float = 0.0003
    ts_far_past: float = 0.0003
    ts_far_future: float = 0.0003
    non_utf8: float = 0.0003
    empty_line: float = 0.0003


@dataclass(frozen=True)
class GenerateConfig:
    seed: int = 7
    start_date: dt.date = dt.date(2026, 11, 1)
    days: int = 7
    users: int = 4000
    items: int = 1500
    categories: int = 30
    events: int = 200_000  # about this many events (the funnel is random); re-sent lines and bots on top
    session_length: float = 8.0  # mean impressions per session
    latent_dim: int = 8
    base_ctr: float = 0.08
    base_cvr: float = 0.12
    bot_users: int = 2
    format: str = "json"  # json (lines), csv (no header) or parquet
    compression: str = "gzip"  # gzip, bzip2 or none (json and csv)
    partitions: int = 4
    profile: str = "default"
    # the settings below shape the realistic profile only
    extra_fields: bool = True  # device, position and brand_id on every line (JSON and Parquet)
    brands: int = 3000  # each item has one; a brand's own effect enters both probabilities
    slots: int = 10  # positions of a result page; the click chance decays with the slot
    user_zipf: float = 1.0  # exponent of user activity by rank (beyond one visit each)
    item_zipf: float = 0.9  # exponent of item popularity by rank
    dirt: DirtConfig = field(default_factory=DirtConfig)

    @property
    def writes_context(self) -> bool:
        """Whether the lines carry the realistic profile's context fields."""
        return self.profile == "realistic" and self.extra_fields

    def checks(self) -> list[tuple[bool, str]]:
        rates = dataclasses.asdict(self.dirt)
        per_event = sum(v for k, v in rates.items() if k != "bot")
        return [
            (self.days >= 3, "generate.days must be >= 3 (history, train, test)"),
            (self.events >= 100, "generate.events must be >= 100"),
            (self.format in FORMATS, f"generate.format must be one of {FORMATS}, got {self.format!r}"),
            (self.compression in COMPRESSIONS, f"generate.compression must be one of {COMPRESSIONS}"),
            (self.session_length >= 1.0, "generate.session_length must be >= 1"),
            (self.profile in PROFILES, f"generate.profile must be one of {PROFILES}, got {self.profile!r}"),
            *at_least("generate", self, ("users", "items", "categories", "partitions", "latent_dim")),
            *at_least("generate", self, ("brands", "slots")),
            (self.user_zipf > 0.0 and self.item_zipf > 0.0, "generate.user_zipf and generate.item_zipf must be > 0"),
            # the mtlrec mapping reads a header-less CSV by position: 10 fields a line
            # instead of 7 would all be quarantined as malformed_csv
            (
                not (self.writes_context and self.format == "csv"),
                "generate.extra_fields: true (profile realistic) writes device, position and brand_id, "
                "which ingest quarantines in a CSV without header: use generate.format json or parquet, "
                "or generate.extra_fields: false",
            ),
            (all(0.0 <= v < 1.0 for v in rates.values()), "generate.dirt rates must be in [0, 1)"),
            (per_event <= 0.5, "generate.dirt rates other than bot must sum to at most 0.5"),
            (self.bot_users >= 1 or rates["bot"] == 0.0, "generate.dirt.bot needs generate.bot_users >= 1"),
            (self.bot_users >= 0, "generate.bot_users must be >= 0"),
        ]
