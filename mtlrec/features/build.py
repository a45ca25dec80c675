"""The steps of the features stage, each reading and writing its Delta tables.

`stage.run` calls them in order for the days a `Plan` names; every step returns the
Delta versions it wrote, so the run summary can pin them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.config import Config
from mtlrec.features import asof, daily, history, labels, quality, samples, sampling, vocabulary
from mtlrec.features.config import FeaturesConfig
from mtlrec.features.plan import Plan, label_span_days
from mtlrec.layout import HISTORY_DAYS, FeatureLayout, index_mapping, with_dense_inputs, with_time_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    spark: SparkSession
    cfg: Config
    path: Callable[[str], str]  # table name -> Delta path
    end: dt.date  # the run date: the day after the last event
    layout: FeatureLayout  # what the samples hold, context fields included

    @property
    def item_fields(self) -> tuple[str, ...]:
        """The log's fields that describe the item (a brand): item attributes of the day."""
        return tuple(f.name for f in self.layout.fields if f.item)

    def table(self, name: str) -> DataFrame:
        """A table this stage writes, as it stands: the version the run summary records.

        Its latest version, not a pinned one: Delta caches the latest snapshot, while
        each time-travel read recomputes it.
        """
        return tables.read(self.spark, self.path(name))


def write_days(df: DataFrame, path: str, *, days: Sequence[dt.date], full: bool) -> int:
    if full:
        return tables.overwrite(df, path, partition_by=[S.DT])
    return tables.replace_dates(df, path, days)


def _days(df: DataFrame, days: Sequence[dt.date]) -> DataFrame:
    return df.where(F.col(S.DT).isin(*days))


def build_daily(ctx: Context, events: DataFrame, plan: Plan) -> dict[str, int]:
    """Aggregate the plan's new days of events."""
    new = _days(events, plan.daily)
    uc = daily.user_category_daily(new, sequence_length=ctx.cfg.features.sequence_length)
    return {
        S.USER_CATEGORY_DAILY_TABLE: write_days(
            uc, ctx.path(S.USER_CATEGORY_DAILY_TABLE), days=plan.daily, full=plan.full
        ),
        S.ITEM_DAILY_TABLE: write_days(
            daily.item_daily(new, item_fields=ctx.item_fields),
            ctx.path(S.ITEM_DAILY_TABLE),
            days=plan.daily,
            full=plan.full,
        ),
    }


def build_features(ctx: Context, plan: Plan) -> dict[str, int]:
    """Point-in-time user, item and user x category rows of the plan's target days."""
    fc = ctx.cfg.features
    lo, hi = min(plan.features) - dt.timedelta(days=HISTORY_DAYS), max(plan.features)

    def history_of(name: str) -> DataFrame:
        table = ctx.table(name)
        return history.spread(table.where(F.col(S.DT).between(lo, hi)), targets=plan.features)

    uc_state = history.user_category_state(
        history_of(S.USER_CATEGORY_DAILY_TABLE), sequence_length=fc.sequence_length
    ).persist(StorageLevel.MEMORY_AND_DISK)
    item_state = history.item_state(history_of(S.ITEM_DAILY_TABLE), item_fields=ctx.item_fields).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    priors = history.priors(item_state)
    outputs = {
        S.USER_FEATURES_TABLE: history.user_features(
            uc_state, priors=priors, smoothing=fc.smoothing, sequence_length=fc.sequence_length, end=ctx.end
        ),
        S.USER_CATEGORY_FEATURES_TABLE: history.cross_features(uc_state, end=ctx.end),
        S.ITEM_FEATURES_TABLE: history.item_features(
            item_state, priors=priors, smoothing=fc.smoothing, end=ctx.end, item_fields=ctx.item_fields
        ),
    }
    written = {name: write_days(df, ctx.path(name), days=plan.features, full=plan.full) for name, df in outputs.items()}
    uc_state.unpersist()
    item_state.unpersist()
    return written


def update_vocabulary(ctx: Context, events: DataFrame) -> int:
    """Append the train days' new frequent ids (and values of categorical context fields)
    to `vocabulary`."""
    fc, path = ctx.cfg.features, ctx.path(S.VOCABULARY_TABLE)
    existing = (
        tables.read(ctx.spark, path)
        if tables.exists(ctx.spark, path)
        else ctx.spark.createDataFrame([], S.VOCABULARY_SCHEMA)
    )
    valid_start, _ = fc.split_starts(ctx.end - dt.timedelta(days=1))
    categorical = [f.name for f in ctx.layout.fields if not f.numeric]
    train_days = with_time_context(events.where(F.col(S.DT) < F.lit(valid_start)))
    counts = vocabulary.id_counts(train_days, features=(*vocabulary.ID_FEATURES, *categorical))
    new = vocabulary.appended(counts, existing=existing, min_count=fc.vocab_min_count, added=ctx.end)
    return tables.insert_new(new, path, keys=[S.FEATURE, S.ID])


def exposures_from_clicks(events: DataFrame, mode: str) -> bool:
    """Whether exposures are made from clicks (no impressions in the log, or configured)."""
    if mode != "auto":
        return mode == "sampled"
    return events.where(F.col(S.EVENT_TYPE) == F.lit(S.IMPRESSION)).limit(1).count() == 0


def labelled_exposures(
    ctx: Context, events: DataFrame, plan: Plan, *, from_clicks: bool, item_daily: DataFrame
) -> DataFrame:
    fc = ctx.cfg.features
    span = dt.timedelta(
        days=label_span_days(click_minutes=fc.click_window_minutes, attribution_hours=fc.attribution_hours)
    )
    # the exposure's own fields; the time fields are derived from its `ts` later
    extra = [f.name for f in ctx.layout.fields if f.name in events.columns]
    exposed = labels.exposures(_days(events, plan.samples), from_clicks=from_clicks, extra=extra)
    if from_clicks:
        made_up = sampling.negatives(
            exposed,
            items=sampling.popularity(_days(item_daily, plan.samples)),
            interactions=sampling.first_interactions(events.where(F.col(S.DT) <= F.lit(max(plan.samples)))),
            ratio=fc.negative_ratio,
            seed=fc.seed,
        )
        exposed = exposed.unionByName(made_up, allowMissingColumns=True)  # made up: no context
    window = events.where(F.col(S.DT).between(min(plan.samples), max(plan.samples) + span))
    return labels.labelled(
        exposed,
        window,
        competing=labels.exposures(window, from_clicks=from_clicks),
        click_minutes=fc.click_window_minutes,
        attribution_hours=fc.attribution_hours,
        run_date=ctx.end,
        open_windows=fc.open_windows,
    )


def raw_samples(ctx: Context, events: DataFrame, plan: Plan, *, from_clicks: bool) -> DataFrame:
    """Labelled exposures of the plan's sample days with raw features, context, split and weights.

    An exposure's context fields are its own, an item field included (the brand it was
    shown with, as the price is the one it was shown at).
    """
    layout = ctx.layout
    fc = ctx.cfg.features

    def table(name: str) -> DataFrame:
        return _days(ctx.table(name), plan.samples)

    item = next(f for f in layout.sparse if f.source == S.ITEM_ID)
    users = samples.user_side(
        table(S.USER_FEATURES_TABLE),
        item_index=index_mapping(ctx.table(S.VOCABULARY_TABLE), feature=item),
        sequence_length=fc.sequence_length,
    )
    items = table(S.ITEM_FEATURES_TABLE)
    item_daily = ctx.table(S.ITEM_DAILY_TABLE)
    exposed = with_time_context(labelled_exposures(ctx, events, plan, from_clicks=from_clicks, item_daily=item_daily))
    raw = samples.joined(
        exposed,
        users=users,
        cross=table(S.USER_CATEGORY_FEATURES_TABLE),
        items=items,
        broadcast_items=items.count() <= fc.broadcast_item_rows,
        salt_buckets=fc.salt_buckets,
        hot_rows=fc.hot_key_rows,
        context=[f.name for f in layout.fields],
    )
    if fc.point_in_time == "timestamp":
        raw = asof.as_of_timestamp(raw, _days(events, plan.samples))
    valid_start, test_start = fc.split_starts(ctx.end - dt.timedelta(days=1))
    split = samples.with_split(raw, valid_start=valid_start, test_start=test_start)
    return sampling.down_sampled(split, keep_rate=fc.negative_keep_rate, seed=fc.seed)


def train_stats(raw: DataFrame, *, layout: FeatureLayout) -> DataFrame:
    """Mean and std of each dense input over the train split, weighted as training weighs."""
    train = with_dense_inputs(raw.where(F.col(S.SPLIT) == F.lit(S.TRAIN)), layout=layout, stats=None)
    return quality.dense_stats(train, features=layout.dense, weight=S.WEIGHT)


def leakage_guard(
    written: DataFrame, *, fc: FeaturesConfig, features: Sequence[str]
) -> dict[str, dict[str, float | None]]:
    """Single-feature AUC per feature and label on a sample of the train split.

    Raises `quality.LeakageError` naming the worst leak, or only logs it when
    `features.leakage_fail` is false. Returns feature -> label -> AUC.
    """
    train = written.where(F.col(S.SPLIT) == F.lit(S.TRAIN)).sample(fraction=fc.leakage_sample, seed=fc.seed)
    table = quality.single_feature_auc(train, features=features, labels=S.LABELS, bins=1000)
    rows = [r.asDict() for r in table.collect()]
    found = quality.leaks(rows, max_auc=fc.leakage_max_auc, min_class=fc.leakage_min_class)
    if found:
        others = ", ".join(f"{x.feature}/{x.label}" for x in found[1:])
        message = f"label leakage: {found[0]} > features.leakage_max_auc {fc.leakage_max_auc}"
        message += f" (also {others})" if others else ""
        if fc.leakage_fail:
            raise quality.LeakageError(f"{message}; set features.leakage_fail=false to only warn")
        log.warning("features: %s", message)
    auc: dict[str, dict[str, float | None]] = {}
    for r in rows:
        value = r[quality.AUC]
        auc.setdefault(r[S.FEATURE], {})[r[quality.LABEL]] = None if value is None else round(value, 4)
    return auc
