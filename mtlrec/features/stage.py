"""`mtlrec features`: Delta `events` -> point-in-time features, vocabulary and `samples`.

Daily incremental: a run aggregates only the event days not built yet (or
`features.dates`), then rebuilds the feature rows and samples that depend on them
(`plan.py`). Re-running a day replaces its partitions, so it is idempotent. A change
of the settings the samples depend on (their `spec`) rebuilds everything.

Which days are built is what the last complete build recorded (`<root>/state/features.json`),
not what the tables hold: a build takes several commits, and one cut short leaves
days in the first tables that the later ones lack. The record drops the days a build
is about to rewrite before its first commit and names them again after its last, so
a run after a crash builds them again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.config import Config
from mtlrec.features import build, samples
from mtlrec.features.build import Context
from mtlrec.features.plan import Plan, label_span_days, plan_days
from mtlrec.layout import TIME_FIELDS, ContextField, FeatureLayout, feature_layout, standardisation
from mtlrec.mapping import load_mapping
from mtlrec.run import paths
from mtlrec.run.metrics import FeaturesMetrics, SplitMetrics
from mtlrec.run.summary import RunSummary, StageReport
from mtlrec.spark_session import get_spark

log = logging.getLogger(__name__)
ONE_DAY = dt.timedelta(days=1)
SPLIT_KEYS = ("valid_start", "test_start", "valid_days", "test_days")

FEATURE_TABLES = (
    S.USER_CATEGORY_DAILY_TABLE,
    S.ITEM_DAILY_TABLE,
    S.USER_FEATURES_TABLE,
    S.ITEM_FEATURES_TABLE,
    S.USER_CATEGORY_FEATURES_TABLE,
)
OUTPUTS = (*FEATURE_TABLES, S.VOCABULARY_TABLE, S.FEATURE_STATS_TABLE, S.SAMPLES_TABLE)
# settings that change how fast, not what, the stage writes
_NOT_IN_SPEC = ("dates", "rebuild", "salt_buckets", "hot_key_rows", "broadcast_item_rows")


def samples_spec(cfg: Config, layout: FeatureLayout) -> str:
    """What the samples depend on, as canonical JSON: the features config and the layout."""
    features = {k: v for k, v in cfg.to_dict()["features"].items() if k not in _NOT_IN_SPEC}
    features = {k: v for k, v in features.items() if not k.startswith("leakage_")}
    spec = {"features": features, "sparse": [[f.name, f.source] for f in layout.sparse], "dense": list(layout.dense)}
    if layout.fields:  # (a spec from before context fields has no such key)
        spec["fields"] = [[f.name, f.numeric, f.item] for f in layout.fields]
    return json.dumps(spec, sort_keys=True)


def context_fields(cfg: Config, events: DataFrame, events_version: int) -> tuple[ContextField, ...]:
    """The hour and day of week of every exposure, then the fields the log's mapping declares.

    A declared field `events` lacks (ingested with another mapping) stops the stage.
    """
    mapping = load_mapping(cfg.input.mapping)
    lacking = [f for f in mapping.declared if f not in events.columns]
    if lacking:
        raise ValueError(
            f"{mapping.name} declares {lacking}, which events v{events_version} lacks: "
            "run ingest again with this mapping (input.mapping)"
        )
    declared = tuple(
        ContextField(f, numeric=f in mapping.numeric, item=f in mapping.item_fields, serving=mapping.serving.get(f))
        for f in mapping.declared
    )
    return (*TIME_FIELDS, *declared)


def serving_values(fields: tuple[ContextField, ...], vocab: DataFrame) -> tuple[ContextField, ...]:
    """`fields`, each categorical field of the exposure with no serving value given taking
    the value the vocabulary counted most often in the train days it was built from."""
    open_ = [f.name for f in fields if f.serving is None and not f.numeric and not f.item]
    if not open_:
        return fields
    rows = (
        vocab.where(F.col(S.FEATURE).isin(*open_))
        .groupBy(S.FEATURE)
        .agg(F.max_by(S.ID, F.struct(F.col(S.COUNT), -F.col(S.INDEX))).alias(S.ID))
        .collect()
    )
    modes = {r[S.FEATURE]: r[S.ID] for r in rows}
    return tuple(dataclasses.replace(f, serving=modes.get(f.name)) if f.name in open_ else f for f in fields)


def _without_splits(spec: str | None) -> str | None:
    """`spec` without the split dates: what the daily aggregates and features depend on."""
    if not spec:
        return None
    parsed = json.loads(spec)
    for key in SPLIT_KEYS:
        parsed["features"].pop(key, None)
    return json.dumps(parsed, sort_keys=True)


STATE = "features"  # <root>/state/features.json


@dataclass(frozen=True)
class Built:
    """What the tables hold as complete builds left them: these days, from these samples settings."""

    days: frozenset[dt.date]
    spec: str  # "" while a full rebuild is under way: the next run rebuilds everything
    events_version: int  # the `events` version the last complete build read

    def to_dict(self) -> dict[str, Any]:
        return {"days": sorted(d.isoformat() for d in self.days), "spec": self.spec, "events": self.events_version}


def last_build(root: str) -> Built | None:
    """The record of the last complete build; None before any (or in a root from before records)."""
    location = paths.state(root, STATE)
    if not storage.exists(location):
        return None
    raw = storage.read_json(location)
    days = frozenset(dt.date.fromisoformat(d) for d in raw["days"])
    return Built(days=days, spec=str(raw["spec"]), events_version=int(raw["events"]))


def save_build(root: str, built: Built) -> None:
    storage.write_json(paths.state(root, STATE), built.to_dict())


def _build_samples(
    ctx: Context, events: DataFrame, plan: Plan, versions: dict[str, int], *, layout: FeatureLayout, spec: str
) -> dict[str, int]:
    spark, path = ctx.spark, ctx.path
    out = dict(versions)
    if plan.full_samples:
        out[S.VOCABULARY_TABLE] = build.update_vocabulary(ctx, events)
    else:
        out[S.VOCABULARY_TABLE] = tables.version(spark, path(S.VOCABULARY_TABLE))
    from_clicks = build.exposures_from_clicks(events, ctx.cfg.features.exposures)
    raw = build.raw_samples(ctx, events, plan, from_clicks=from_clicks).persist()
    if plan.full_samples:
        stats = build.train_stats(raw, layout=layout).withColumn(S.SPEC, F.lit(spec))
        out[S.FEATURE_STATS_TABLE] = tables.overwrite(stats, path(S.FEATURE_STATS_TABLE))
    else:
        out[S.FEATURE_STATS_TABLE] = tables.version(spark, path(S.FEATURE_STATS_TABLE))
    stats_table = ctx.table(S.FEATURE_STATS_TABLE)
    finished = samples.finished(
        raw, layout=layout, vocabulary=ctx.table(S.VOCABULARY_TABLE), stats=standardisation(stats_table)
    )
    out[S.SAMPLES_TABLE] = build.write_days(finished, path(S.SAMPLES_TABLE), days=plan.samples, full=plan.full_samples)
    raw.unpersist()
    log.info("features: samples of %d day(s), %s exposures", len(plan.samples), "sampled" if from_clicks else "logged")
    return out


def _split_metrics(written: DataFrame) -> dict[str, SplitMetrics]:
    aggs = [F.count(F.lit(1)).alias("rows"), *[F.avg(t).alias(f"{t}_rate") for t in S.LABELS]]
    aggs += [F.avg(F.col(c).cast("double")).alias(f"{c}_share") for c in (S.SAMPLED, S.LABEL_OPEN)]
    rows = written.groupBy(S.SPLIT).agg(*aggs, F.sum(S.WEIGHT).alias("weight")).collect()
    return {
        r[S.SPLIT]: SplitMetrics.from_dict(
            {k: (None if v is None else float(v)) for k, v in r.asDict().items() if k != S.SPLIT}
        )
        for r in rows
    }


def _vocabulary_metrics(vocab: DataFrame) -> dict[str, dict[str, int]]:
    """Per id feature: ids with an index of their own, and the last index (the table a model needs)."""
    rows = vocab.groupBy(S.FEATURE).agg(F.count(F.lit(1)).alias("size"), F.max(S.INDEX).alias("last")).collect()
    return {r[S.FEATURE]: {"size": int(r["size"]), "last_index": int(r["last"])} for r in rows}


def run(cfg: Config, summary: RunSummary) -> StageReport:
    spark = get_spark(cfg.spark)
    fc = cfg.features
    path = functools.partial(paths.table, cfg.paths.root)
    events_version = summary.table_version(S.EVENTS_TABLE)
    events = tables.read(spark, path(S.EVENTS_TABLE), events_version)
    days = sorted(r[S.DT] for r in events.select(S.DT).distinct().collect())
    if not days:
        raise ValueError(f"events table (version {events_version}) is empty: nothing to build features from")
    # the split dates of these events: rolling windows end at their last day
    valid_start, test_start = fc.split_starts(days[-1])
    fc = dataclasses.replace(fc, valid_start=valid_start, test_start=test_start)
    cfg = dataclasses.replace(cfg, features=fc)
    log.info("features: splits train ..%s, valid %s..%s, test %s..%s", valid_start - ONE_DAY, valid_start,
             test_start - ONE_DAY, test_start, days[-1])  # fmt: skip
    layout = feature_layout(cfg.train.tasks, context_fields(cfg, events, events_version))
    ctx = Context(spark=spark, cfg=cfg, path=path, end=days[-1] + ONE_DAY, layout=layout)
    spec = samples_spec(cfg, layout)
    before = last_build(cfg.paths.root)
    same_spec = before is not None and before.spec == spec
    # moved split dates re-split every sample; the daily aggregates and features stay
    same_but_splits = before is not None and _without_splits(before.spec) == _without_splits(spec)
    full = fc.rebuild or not same_but_splits or not all(tables.exists(spark, path(n)) for n in OUTPUTS)
    # split dates moved without a new day (fixed dates edited): nothing is new, all is redone
    full = full or (not same_spec and before is not None and set(days) <= before.days and not fc.dates)
    plan = plan_days(
        days,
        built=set() if full or before is None else before.days,
        requested=fc.dates,
        full=full,
        span=label_span_days(click_minutes=fc.click_window_minutes, attribution_hours=fc.attribution_hours),
        valid_start=valid_start,
        samples_ready=same_spec,
    )
    log.info("features: events v%d, context %s, building %s", events_version, [f.name for f in layout.fields], plan)
    versions: dict[str, int] = {}
    if not plan.empty:
        kept = frozenset() if full or before is None else before.days - set(plan.daily)
        # until the last commit, the record claims no more than the old samples settings
        pending = "" if full else spec if same_spec else before.spec if before else ""
        save_build(cfg.paths.root, Built(kept, spec=pending, events_version=events_version))
        versions |= build.build_daily(ctx, events, plan)
        versions |= build.build_features(ctx, plan)
        versions |= _build_samples(ctx, events, plan, versions, layout=layout, spec=spec)
        save_build(cfg.paths.root, Built(kept | set(plan.daily), spec=spec, events_version=events_version))
    versions = {name: versions.get(name, -1) for name in OUTPUTS}
    versions = {name: v if v >= 0 else tables.version(spark, path(name)) for name, v in versions.items()}

    written = ctx.table(S.SAMPLES_TABLE)
    leakage = build.leakage_guard(written, fc=fc, features=layout.dense)
    by_split = _split_metrics(written)
    log.info("features: samples by split %s", by_split)
    vocab = ctx.table(S.VOCABULARY_TABLE)
    built = {"daily": plan.daily, "features": plan.features, "samples": plan.samples}
    return StageReport(
        rows_in=events.count(),
        rows_out=sum(s.rows for s in by_split.values()),
        tables=versions,
        metrics=FeaturesMetrics(
            samples=by_split,
            scoring_date=ctx.end.isoformat(),
            built={k: [d.isoformat() for d in v] for k, v in built.items()},
            full_rebuild=plan.full,
            splits={"valid_start": valid_start.isoformat(), "test_start": test_start.isoformat()},
            vocabulary=_vocabulary_metrics(vocab),
            leakage_auc=leakage,
            context=[f.to_dict() for f in serving_values(layout.fields, vocab)],
        ),
    )
