"""`mtlrec score`: top-K recommendations for every user with history, and item leaderboards.

Users and items are taken as they stand the day after the last event (the feature
tables' last `dt`). The serving path (`mtlrec.serving`) gives each user's candidates
the model's inputs as `features` builds them and runs the model on the executors
(loaded once per Python worker); every named strategy ranks them. The day's partitions of Delta
`recommendations` and `leaderboard` are replaced, so a re-run gives the same tables.
"""

from __future__ import annotations

import logging

from pyspark import StorageLevel
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import tables
from mtlrec.config import Config
from mtlrec.run import paths
from mtlrec.run.metrics import ScoreMetrics
from mtlrec.run.summary import RunSummary, StageReport
from mtlrec.scoring import leaderboard
from mtlrec.serving.inference import ServedModel, prob_column
from mtlrec.serving.scored import DAY_TABLES, last_feature_day, probability_columns, scored_candidates, user_paths
from mtlrec.serving.strategy import CTCVR, ranked
from mtlrec.spark_session import get_spark

log = logging.getLogger(__name__)


def run(cfg: Config, summary: RunSummary) -> StageReport:
    spark = get_spark(cfg.spark)
    root = cfg.paths.root
    model = ServedModel.load(summary.model_path())
    versions: dict[str, int | None] = {name: summary.table_version(name) for name in DAY_TABLES}
    day = last_feature_day(spark, root=root, version=versions[S.USER_FEATURES_TABLE])
    sc = cfg.score
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(sc.batch_size))  # rows per model batch
    log.info("score: %s with model %s (%s), strategies %s", day, model.run_id, model.path, ", ".join(sc.strategies))

    served = scored_candidates(spark, root=root, model=model, sc=sc, day=day, versions=versions)
    scored = served.pairs.persist(StorageLevel.MEMORY_AND_DISK)
    probs = probability_columns(model.tasks)
    recs = ranked(scored, strategies=sc.strategies, k=sc.top_k, category_cap=sc.category_cap).select(
        F.lit(day).alias(S.DT),
        S.USER_ID,
        S.STRATEGY,
        S.RANK,
        S.ITEM_ID,
        S.SCORE,
        *probs,
        S.CATEGORY_ID,
        S.PRICE,
        F.lit(model.run_id).alias(S.MODEL_RUN_ID),
    )
    recs_path = paths.table(root, S.RECOMMENDATIONS_TABLE)
    recs_version = tables.replace_dates(recs, recs_path, [day])

    boards = leaderboard.trending(
        tables.read(spark, paths.table(root, S.ITEM_DAILY_TABLE), summary.table_version(S.ITEM_DAILY_TABLE)),
        day=day,
        days=sc.trending_days,
        n=sc.leaderboard_size,
    )
    if prob_column(CTCVR) in probs:
        boards = leaderboard.expected_purchases(scored, n=sc.leaderboard_size).unionByName(boards)
    boards = boards.select(F.lit(day).alias(S.DT), *leaderboard.COLUMNS, F.lit(model.run_id).alias(S.MODEL_RUN_ID))
    boards_path = paths.table(root, S.LEADERBOARD_TABLE)
    boards_version = tables.replace_dates(boards, boards_path, [day])
    pairs = scored.count()
    scored.unpersist()

    written = tables.read(spark, recs_path, recs_version).where(F.col(S.DT) == F.lit(day))
    counts = written.agg(F.count(F.lit(1)).alias("rows"), F.count_distinct(S.USER_ID).alias("users")).first()
    assert counts is not None
    by_path = user_paths(served.users, day)
    log.info(
        "score: %d candidate pairs scored; %d recommendations for %d users on %s (users by feature row: %s)",
        pairs,
        counts["rows"],
        counts["users"],
        day,
        by_path,
    )
    return StageReport(
        rows_in=pairs,
        rows_out=int(counts["rows"]),
        tables={S.RECOMMENDATIONS_TABLE: recs_version, S.LEADERBOARD_TABLE: boards_version},
        metrics=ScoreMetrics(date=day.isoformat(), users=int(counts["users"]), pairs=pairs, users_by_row=by_path),
    )
