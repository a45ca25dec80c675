"""Exposures and their labels: click, then cart and purchase attributed to that click.

Attribution is last-touch per (user, item): a click belongs to the latest exposure at
or before it within `click_minutes`; a cart or purchase belongs to the exposure of the
latest click at or before it within `attribution_hours`. So `purchase` = 1 means
clicked and then bought (ESMM's click-through conversion), and each action counts for
one exposure only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S

EXPOSURE_COLUMNS = (S.EVENT_ID, S.TS, S.USER_ID, S.ITEM_ID, S.CATEGORY_ID, S.PRICE, S.DT, S.SAMPLED)
LABELLED_COLUMNS = (*EXPOSURE_COLUMNS, S.LABEL_OPEN, *S.LABELS)
_STEP = {S.CLICK: 1, S.CART: 2, S.PURCHASE: 3}  # exposure 0: at equal ts, the funnel's order
EXPOSED = "exposed"  # the exposure an action is attributed to


def exposures(events: DataFrame, *, from_clicks: bool, extra: Sequence[str] = ()) -> DataFrame:
    """Impressions, or, for logs without them (Taobao), every click as its own exposure.

    `extra`: more columns of `events` an exposure keeps (its context fields).
    """
    kind = S.CLICK if from_clicks else S.IMPRESSION
    return events.where(F.col(S.EVENT_TYPE) == F.lit(kind)).select(
        *EXPOSURE_COLUMNS[:-1], F.lit(False).alias(S.SAMPLED), *extra
    )


def _seconds(column: str) -> Column:
    return F.unix_micros(F.col(column)) / F.lit(1_000_000)


def attributed(exposed: DataFrame, events: DataFrame, *, click_minutes: int, attribution_hours: int) -> DataFrame:
    """Per exposure that got any: `click`, `cart`, `purchase` as 1.0 (key `event_id`)."""
    marks = exposed.select(S.USER_ID, S.ITEM_ID, S.TS, F.col(S.EVENT_ID).alias(EXPOSED), F.lit(0).alias("step"))
    step = F.lit(None)
    for kind, n in _STEP.items():
        step = F.when(F.col(S.EVENT_TYPE) == F.lit(kind), F.lit(n)).otherwise(step)
    actions = events.where(F.col(S.EVENT_TYPE).isin(*_STEP)).select(
        S.USER_ID, S.ITEM_ID, S.TS, F.lit(None).cast("string").alias(EXPOSED), step.alias("step")
    )
    so_far = (
        Window.partitionBy(S.USER_ID, S.ITEM_ID)
        .orderBy(S.TS, "step")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    is_exposure = F.col("step") == F.lit(0)
    stream = marks.unionByName(actions).withColumns(
        {
            "last_exposure": F.last(EXPOSED, ignorenulls=True).over(so_far),
            "exposed_at": F.last(F.when(is_exposure, _seconds(S.TS)), ignorenulls=True).over(so_far),
        }
    )
    is_click = F.col("step") == F.lit(_STEP[S.CLICK])
    click_of = is_click & (_seconds(S.TS) - F.col("exposed_at") <= F.lit(click_minutes * 60))
    clicks = stream.withColumns(
        {
            "click_for": F.when(click_of, F.col("last_exposure")),
            "clicked_at": F.when(click_of, _seconds(S.TS)),
        }
    ).withColumns(
        {
            "last_click_for": F.last("click_for", ignorenulls=True).over(so_far),
            "last_clicked_at": F.last("clicked_at", ignorenulls=True).over(so_far),
        }
    )
    converts = (F.col("step") > F.lit(_STEP[S.CLICK])) & (
        _seconds(S.TS) - F.col("last_clicked_at") <= F.lit(attribution_hours * 3600)
    )
    owner = F.when(is_click, F.col("click_for")).when(converts, F.col("last_click_for"))
    return (
        clicks.withColumn(S.EVENT_ID, owner)
        .where(F.col(S.EVENT_ID).isNotNull())
        .groupBy(S.EVENT_ID)
        .agg(*[F.max(F.col("step") == F.lit(n)).cast("float").alias(task) for task, n in _STEP.items()])
    )


def labelled(
    exposed: DataFrame,
    events: DataFrame,
    *,
    click_minutes: int,
    attribution_hours: int,
    run_date: dt.date,
    open_windows: str,
    competing: DataFrame | None = None,
) -> DataFrame:
    """Exposures with labels; windows still open at the start of `run_date` never say 0.

    `competing` are other exposures of the days `events` covers: not labelled here,
    but a click after one of them is its, not an earlier exposure's (last touch).
    Columns of `exposed` beyond the exposure's keys (its context fields) are kept.

    An exposure's click window closes `click_minutes` after it, its cart and purchase
    window `click_minutes + attribution_hours` after it. With `open_windows="exclude"`
    exposures with an open window are dropped; with "flag" they are kept with
    `label_open` and a null label for every task not yet positive whose window is open.
    Made-up (sampled) exposures have no window: their labels are 0.
    """
    marks = exposed
    if competing is not None:
        others = competing.join(exposed.select(S.EVENT_ID), on=S.EVENT_ID, how="left_anti")
        marks = marks.unionByName(others, allowMissingColumns=True)
    labels = attributed(marks, events, click_minutes=click_minutes, attribution_hours=attribution_hours)
    horizon = F.lit(dt.datetime.combine(run_date, dt.time(), tzinfo=dt.UTC))
    closes = {
        S.CLICK: F.col(S.TS) + F.expr(f"INTERVAL {click_minutes} MINUTES"),
        S.CART: F.col(S.TS) + F.expr(f"INTERVAL {click_minutes * 60 + attribution_hours * 3600} SECONDS"),
    }
    closes[S.PURCHASE] = closes[S.CART]
    is_open = {task: ~F.col(S.SAMPLED) & (close > horizon) for task, close in closes.items()}
    joined = exposed.join(labels, on=S.EVENT_ID, how="left").withColumns(
        {task: F.coalesce(F.col(task), F.lit(0.0)).cast("float") for task in S.LABELS}
    )
    unknown = {task: is_open[task] & (F.col(task) < F.lit(1.0)) for task in S.LABELS}
    out = joined.withColumns(
        {task: F.when(unknown[task], F.lit(None)).otherwise(F.col(task)) for task in S.LABELS}
    ).withColumn(S.LABEL_OPEN, is_open[S.PURCHASE])
    if open_windows == "exclude":
        out = out.where(~F.col(S.LABEL_OPEN))
    return out.select(*LABELLED_COLUMNS, *[c for c in exposed.columns if c not in LABELLED_COLUMNS])
