"""Pure transforms of the scoring stage: candidates, the ranking strategy, top-K."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.layout import FeatureLayout, dense_sources, with_dense_inputs, with_sparse_indices
from mtlrec.models.inference import prob_column

POPULARITY = "item_clicks_30d"


def popular_items(items: DataFrame, *, n: int) -> DataFrame:
    """The `n` items clicked most in all history (ties by id): everyone's candidates."""
    return items.orderBy(F.col(POPULARITY).desc(), F.col(S.ITEM_ID)).limit(n)


def candidate_pairs(
    users: DataFrame,
    candidates: DataFrame,
    *,
    cross: DataFrame,
    vocabulary: DataFrame,
    stats: dict[str, tuple[float, float]],
    layout: FeatureLayout,
) -> DataFrame:
    """Every (user, candidate item) pair with the model's feature columns.

    Built as `features` builds samples: the user x category row of the candidate's
    category, vocabulary indexes and the train split's standardisation.
    """
    sources = dense_sources(layout)
    user_cols = [S.USER_ID, *[c for c in users.columns if c in sources]]
    item_cols = [S.ITEM_ID, S.CATEGORY_ID, *[c for c in candidates.columns if c in sources]]
    cross_cols = [S.USER_ID, S.CATEGORY_ID, *[c for c in cross.columns if c in sources]]
    pairs = (
        users.select(*user_cols)
        .crossJoin(F.broadcast(candidates.select(*item_cols)))
        .join(cross.select(*cross_cols), on=[S.USER_ID, S.CATEGORY_ID], how="left")
    )
    indexed = with_sparse_indices(pairs, layout=layout, vocabulary=vocabulary)
    return with_dense_inputs(indexed, layout=layout, stats=stats).select(
        S.USER_ID, S.ITEM_ID, *layout.sparse_columns, *layout.dense
    )


def strategy_score(strategy: dict[str, float]) -> Column:
    """prod_t p_t ** a_t, computed in log space."""
    log_score = sum(
        (F.lit(a) * F.log(F.greatest(F.col(prob_column(t)), F.lit(1e-12))) for t, a in strategy.items()),
        F.lit(0.0),
    )
    return F.exp(log_score)


def top_k(
    scored: DataFrame, *, strategy: dict[str, float], k: int, tasks: tuple[str, ...], run_id: str, day: dt.date
) -> DataFrame:
    """The `k` best items per user by the strategy score, ranked 1..k."""
    best_first = (
        Window.partitionBy(S.USER_ID)
        .orderBy(F.col(S.SCORE).desc(), F.col(S.ITEM_ID))
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    return (
        scored.withColumn(S.SCORE, strategy_score(strategy))
        .withColumn(S.RANK, F.row_number().over(best_first))
        .where(F.col(S.RANK) <= F.lit(k))
        .select(
            F.lit(day).alias(S.DT),
            S.USER_ID,
            S.RANK,
            S.ITEM_ID,
            S.SCORE,
            *[prob_column(t) for t in tasks],
            F.lit(run_id).alias(S.RUN_ID),
        )
    )
