"""`features` settings: windows, splits, vocabulary, sampling and the leakage guard."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mtlrec.checks import at_least


@dataclass(frozen=True)
class FeaturesConfig:
    # the splits roll with the data: the last `test_days` event days are test, the
    # `valid_days` before them valid, every earlier day train (a dated run's data ends
    # at its date, so each run date trains on the window ending there)
    valid_days: int = 1
    test_days: int = 1
    # fixed split dates instead (both or neither): train before valid_start, valid
    # before test_start, test from it
    valid_start: dt.date | None = None
    test_start: dt.date | None = None
    click_window_minutes: int = 30
    # a cart or purchase counts for the click it follows within this; the generated funnel
    # buys within ~2.5 hours of the click, and a longer window would leave most of the
    # last (test) day open at the run date (open rows are excluded)
    attribution_hours: int = 3
    open_windows: str = "exclude"  # exposures whose windows are open at the run date: exclude or flag
    point_in_time: str = "day"  # features as of the exposure's day, or "timestamp" (as-of its ts)
    smoothing: float = 20.0  # pseudo-impressions of the population rate in CTR/CVR
    sequence_length: int = 10  # last N clicked items per user
    dates: tuple[dt.date, ...] = ()  # days to (re)build; empty: the days of events not built yet
    rebuild: bool = False  # rebuild every table from all events
    exposures: str = "auto"  # impressions, sampled (negative sampling), auto: sampled if no impressions
    negative_ratio: int = 4  # sampled negatives per click, in `sampled` mode
    negative_keep_rate: float = 1.0  # share of non-clicked train exposures kept (weight 1 / rate)
    seed: int = 11
    vocab_min_count: int = 2  # events an id needs in the train days to get its own index
    salt_buckets: int = 8  # hot (user, dt) keys spread over this many join partitions (1: off)
    hot_key_rows: int = 10_000  # exposures of one key that make it hot
    broadcast_item_rows: int = 5_000_000  # item feature rows up to which their join is broadcast
    leakage_max_auc: float = 0.98  # a single feature with AUC above this against a label leaks
    leakage_fail: bool = True  # false: log the leak as a warning instead of stopping
    leakage_sample: float = 0.5  # share of the train split the guard scores
    leakage_min_class: int = 50  # fewer positives or negatives than this: no verdict

    def split_starts(self, last_day: dt.date) -> tuple[dt.date, dt.date]:
        """(valid_start, test_start) for events whose last day is `last_day`."""
        if self.valid_start is not None and self.test_start is not None:
            return self.valid_start, self.test_start
        test_start = last_day - dt.timedelta(days=self.test_days - 1)
        return test_start - dt.timedelta(days=self.valid_days), test_start

    def checks(self) -> list[tuple[bool, str]]:
        fixed = (self.valid_start, self.test_start)
        return [
            (
                (None in fixed) == (fixed == (None, None)),
                "features.valid_start and features.test_start go together (fixed split dates), or neither "
                "(the splits roll: features.valid_days, test_days)",
            ),
            (
                None in fixed or fixed[0] < fixed[1],  # type: ignore[operator]
                "features.valid_start must be before features.test_start",
            ),
            *at_least("features", self, ("valid_days", "test_days")),
            (
                self.open_windows in ("exclude", "flag"),
                f"features.open_windows must be exclude or flag, got {self.open_windows!r}",
            ),
            (
                self.point_in_time in ("day", "timestamp"),
                f"features.point_in_time must be day or timestamp, got {self.point_in_time!r}",
            ),
            (
                self.exposures in ("auto", "impressions", "sampled"),
                f"features.exposures must be auto, impressions or sampled, got {self.exposures!r}",
            ),
            (0.0 < self.negative_keep_rate <= 1.0, "features.negative_keep_rate must be in (0, 1]"),
            (0.0 < self.leakage_sample <= 1.0, "features.leakage_sample must be in (0, 1]"),
            *at_least("features", self, ("negative_ratio", "sequence_length", "vocab_min_count", "salt_buckets")),
            (
                self.click_window_minutes >= 0 and self.attribution_hours >= 0,
                "features.click_window_minutes and attribution_hours must be >= 0",
            ),
            (self.smoothing >= 0.0, "features.smoothing must be >= 0"),
            *at_least("features", self, ("hot_key_rows", "leakage_min_class")),
            (self.broadcast_item_rows >= 0, "features.broadcast_item_rows must be >= 0 (0: never broadcast)"),
        ]
