"""The data-quality part of the report, from `dq_metrics` and `quarantine`.

Pure transforms give per run date where the records went and, per quarantine reason,
how many records it took with ONE example: the first by (run date, file, raw text),
so the same tables always show the same example, cut to `max_chars` in Spark so a
huge malformed line never reaches the driver. `quality_sections` turns the collected
rows (a few per run date and reason) into report sections and a plot.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.evaluation.sections import Block, Image, Section, Table, save_figure

EXAMPLE_CHARS = 300
COUNT_COLUMNS = [S.READ, S.CLEAN, S.DUPLICATES, S.QUARANTINED, S.LATE]


def dq_daily(dq_metrics: DataFrame) -> DataFrame:
    """Per run date: read, clean, duplicates, quarantined and late records."""
    return (
        dq_metrics.groupBy(S.DT)
        .agg(*[F.sum(c).alias(c) for c in COUNT_COLUMNS])
        .select(S.DT, *[F.col(c).cast("long").alias(c) for c in COUNT_COLUMNS])
    )


def quarantined_by_reason(dq_metrics: DataFrame) -> DataFrame:
    """Per run date and reason, the records quarantined (reasons that took none have no row)."""
    exploded = dq_metrics.select(S.DT, F.explode(S.QUARANTINED_BY_REASON).alias(S.REASON, S.RECORDS))
    return (
        exploded.groupBy(S.DT, S.REASON)
        .agg(F.sum(S.RECORDS).cast("long").alias(S.RECORDS))
        .where(F.col(S.RECORDS) > F.lit(0))
        .select(S.DT, S.REASON, S.RECORDS)
    )


def reason_examples(quarantine: DataFrame, *, max_chars: int = EXAMPLE_CHARS) -> DataFrame:
    """Per reason: its records and its first record by (run date, file, raw), raw cut to `max_chars`."""
    first = F.min(F.struct(S.DT, S.SOURCE_FILE, S.RAW)).alias("first")
    raw = F.col(f"first.{S.RAW}")
    cut = F.when(F.length(raw) > F.lit(max_chars), F.concat(F.substring(raw, 1, max_chars), F.lit("..."))).otherwise(
        raw
    )
    return (
        quarantine.groupBy(S.REASON)
        .agg(F.count(F.lit(1)).alias(S.RECORDS), first)
        .select(
            S.REASON,
            S.RECORDS,
            F.col(f"first.{S.DT}").alias(S.EXAMPLE_DT),
            F.col(f"first.{S.SOURCE_FILE}").alias(S.EXAMPLE_FILE),
            cut.alias(S.EXAMPLE),
        )
    )


def plot_outcomes(path: str, daily: Sequence[Mapping[str, Any]]) -> str:
    """Stacked bars per run date: clean, duplicates, quarantined (together the records read)."""
    days = [str(r[S.DT]) for r in daily]
    fig, (counts, shares) = plt.subplots(1, 2, figsize=(max(9.0, 1.2 * len(days)), 3.8))
    bottom = [0] * len(days)
    for column in (S.CLEAN, S.DUPLICATES, S.QUARANTINED):
        values = [int(r[column]) for r in daily]
        counts.bar(days, values, bottom=bottom, label=column)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    counts.set(title="records read per run date, by outcome", ylabel="records", ylim=(0, 1.25 * max(bottom, default=1)))
    counts.legend(loc="upper center", ncol=3)
    # the rejected few are invisible beside the clean records: their shares on their own scale
    stacked = [0.0] * len(days)
    for colour, column in (("tab:orange", S.DUPLICATES), ("tab:green", S.QUARANTINED)):
        share = [int(r[column]) / int(r[S.READ]) if r[S.READ] else 0.0 for r in daily]
        shares.bar(days, share, bottom=stacked, color=colour, label=column)
        stacked = [b + v for b, v in zip(stacked, share, strict=True)]
    shares.set(title="share of the records read", ylabel="share")
    shares.legend()
    for ax in (counts, shares):
        ax.tick_params(axis="x", labelrotation=30)
    return save_figure(fig, path)


def reason_table(by_reason: Sequence[Mapping[str, Any]]) -> Table:
    """Run dates (rows) by reason (columns, most records first); a dash where a reason took nothing."""
    totals: Counter[str] = Counter()
    cells: dict[str, dict[str, int]] = {}
    for r in by_reason:
        totals[r[S.REASON]] += int(r[S.RECORDS])
        cells.setdefault(str(r[S.DT]), {})[r[S.REASON]] = int(r[S.RECORDS])
    reasons = [reason for reason, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Table(["run date", *reasons], [[day, *[row.get(x) for x in reasons]] for day, row in sorted(cells.items())])


def quality_sections(
    daily: Sequence[Mapping[str, Any]],
    by_reason: Sequence[Mapping[str, Any]],
    examples: Sequence[Mapping[str, Any]],
    out_dir: str,
) -> list[Section]:
    """The data-quality section from collected rows of the three transforms; plot under `out_dir`."""
    if not daily:
        return [Section("Data quality", ["No `dq_metrics` rows: nothing was ingested in this run."])]
    rows = [[str(r[S.DT]), *[int(r[c]) for c in COUNT_COLUMNS], _share(r[S.QUARANTINED], r[S.READ])] for r in daily]
    blocks: list[Block] = [
        "Per run date (the `dt` folder ingested): read = clean + duplicates + quarantined; late records"
        " are clean ones whose event date is before their run date.",
        Table(["run date", *COUNT_COLUMNS, "quarantined share"], rows),
        Image("ingest_outcomes", plot_outcomes(os.path.join(out_dir, "ingest_outcomes.png"), daily)),
    ]
    if by_reason:
        blocks += ["Quarantined records per run date and reason:", reason_table(by_reason)]
    if examples:
        total = sum(int(r[S.RECORDS]) for r in examples)
        rows = [
            [
                r[S.REASON],
                int(r[S.RECORDS]),
                _share(r[S.RECORDS], total),
                f"{r[S.EXAMPLE_DT]} {r[S.EXAMPLE_FILE]}",
                r[S.EXAMPLE],
            ]
            for r in examples
        ]
        blocks += [
            "Top quarantine reasons, each with its first record (by run date, file and text; cut for display):",
            Table(["reason", "records", "share", "example from", "example record"], rows),
        ]
    return [Section("Data quality", blocks)]


def _share(part: Any, whole: Any) -> float | None:
    return int(part) / int(whole) if whole else None
