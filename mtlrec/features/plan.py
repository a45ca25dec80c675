"""Which days a features run (re)builds: the daily increment and what depends on it.

Daily aggregates of day D feed the feature rows of days D .. D+30 and the labels of
the samples of days D-span .. D (an exposure's windows can reach `span` days ahead).
Samples of train days feed the normalisation statistics and the vocabulary, so
rebuilding any of them rebuilds every sample.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from mtlrec.layout import HISTORY_DAYS


@dataclass(frozen=True)
class Plan:
    daily: tuple[dt.date, ...]  # days whose daily aggregates are (re)built
    features: tuple[dt.date, ...]  # target days of the feature tables
    samples: tuple[dt.date, ...]  # days whose samples are (re)built
    full: bool  # every table is rebuilt from all events (overwrite)
    full_samples: bool  # every sample is rebuilt, with fresh statistics

    @property
    def empty(self) -> bool:
        return not self.daily

    def __str__(self) -> str:
        def span(days: tuple[dt.date, ...]) -> str:
            return f"{len(days)} day(s) {days[0]}..{days[-1]}" if days else "nothing"

        full = " (full rebuild)" if self.full else " (all samples)" if self.full_samples else ""
        return f"daily {span(self.daily)}, features {span(self.features)}, samples {span(self.samples)}{full}"


def label_span_days(*, click_minutes: int, attribution_hours: int) -> int:
    """Days after an exposure's day its latest label can land on."""
    return math.ceil((click_minutes * 60 + attribution_hours * 3600) / 86400)


def plan_days(
    days: Sequence[dt.date],
    *,
    built: Collection[dt.date],
    requested: Sequence[dt.date],
    full: bool,
    span: int,
    valid_start: dt.date,
    samples_ready: bool,
) -> Plan:
    """The days to build, given the event `days` and the daily aggregates already `built`.

    `requested` (config `features.dates`) forces those days; otherwise every event
    day not built yet is new. The scoring date, the day after the last event, is a
    feature target whenever a day within 30 days before it changes.
    """
    days = sorted(set(days))
    missing = sorted(set(requested) - set(days))
    if missing:
        raise ValueError(f"features.dates has days without events: {', '.join(map(str, missing))}")
    if full:
        new = days
    elif requested:
        new = sorted(set(requested))
    else:
        new = [d for d in days if d not in built]
    if not new:
        return Plan((), (), (), full=False, full_samples=False)
    end = days[-1] + dt.timedelta(days=1)
    features = [t for t in (*days, end) if any(0 <= (t - d).days <= HISTORY_DAYS for d in new)]
    samples = [d for d in days if d in features or any(0 <= (b - d).days <= span for b in new)]
    full_samples = full or not samples_ready or any(d < valid_start for d in samples)
    return Plan(
        daily=tuple(new),
        features=tuple(features),
        samples=tuple(days) if full_samples else tuple(samples),
        full=full,
        full_samples=full_samples,
    )
