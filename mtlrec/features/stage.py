"""`mtlrec features`: Delta `events` -> `user_features`, `item_features`, `samples`."""

from __future__ import annotations

import datetime as dt
import logging

from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.config import Config
from mtlrec.features import transforms as T
from mtlrec.layout import feature_layout
from mtlrec.spark_session import get_spark
from mtlrec.summary import RunSummary, StageReport

log = logging.getLogger(__name__)


def run(cfg: Config, summary: RunSummary) -> StageReport:
    spark = get_spark(cfg.spark)
    root, fc = cfg.paths.root, cfg.features
    events_version = summary.table_version(S.EVENTS_TABLE)
    events = tables.read(spark, tables.table_path(root, S.EVENTS_TABLE), events_version)
    last = events.agg(F.max(S.DT).alias("last")).first()
    if last is None or last["last"] is None:
        raise ValueError(f"events table (version {events_version}) is empty: nothing to build features from")
    end: dt.date = last["last"] + dt.timedelta(days=1)
    # smoothing priors from the training days only, so valid and test stay unseen
    priors = T.population_rates(events.where(F.col(S.DT) < F.lit(fc.valid_start)))
    log.info("features: events v%d, point-in-time features up to %s", events_version, end)

    users = T.user_features(
        T.history(T.daily_counts(events, key=S.USER_ID), key=S.USER_ID, end=end),
        priors=priors,
        smoothing=fc.smoothing,
    )
    items = T.item_features(
        T.history(T.daily_counts(events, key=S.ITEM_ID), key=S.ITEM_ID, end=end),
        priors=priors,
        smoothing=fc.smoothing,
    )
    versions = {
        S.USER_FEATURES_TABLE: tables.overwrite(
            users, tables.table_path(root, S.USER_FEATURES_TABLE), partition_by=[S.DT]
        ),
        S.ITEM_FEATURES_TABLE: tables.overwrite(
            items, tables.table_path(root, S.ITEM_FEATURES_TABLE), partition_by=[S.DT]
        ),
    }
    # samples join the feature tables as written, the versions recorded above
    labelled = T.labelled_impressions(
        events, click_minutes=fc.click_window_minutes, purchase_hours=fc.purchase_window_hours
    )
    samples = T.samples(
        labelled,
        users=tables.read(spark, tables.table_path(root, S.USER_FEATURES_TABLE), versions[S.USER_FEATURES_TABLE]),
        items=tables.read(spark, tables.table_path(root, S.ITEM_FEATURES_TABLE), versions[S.ITEM_FEATURES_TABLE]),
        layout=feature_layout(cfg.model, cfg.train.tasks),
        valid_start=fc.valid_start,
        test_start=fc.test_start,
    )
    samples_path = tables.table_path(root, S.SAMPLES_TABLE)
    versions[S.SAMPLES_TABLE] = tables.overwrite(samples, samples_path, partition_by=[S.DT])
    written = tables.read(spark, samples_path, versions[S.SAMPLES_TABLE])
    by_split = {
        row[S.SPLIT]: {
            "rows": int(row["rows"]),
            "click_rate": float(row["click"]),
            "purchase_rate": float(row["purchase"]),
        }
        for row in written.groupBy(S.SPLIT)
        .agg(F.count(F.lit(1)).alias("rows"), F.avg(S.CLICK).alias("click"), F.avg(S.PURCHASE).alias("purchase"))
        .collect()
    }
    log.info("features: samples by split %s", by_split)
    return StageReport(
        rows_in=events.count(),
        rows_out=sum(int(s["rows"]) for s in by_split.values()),
        tables=versions,
        metrics={"samples": by_split, "features": {"scoring_date": end.isoformat()}},
    )
