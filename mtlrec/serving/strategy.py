"""Ranking strategies: a score per (user, item) from task probabilities and item attributes.

A strategy is a product of terms raised to exponents, e.g. `{ctcvr: 1.0, price: 0.5}`
ranks by p_ctcvr * price^0.5. Each named strategy ranks every user's candidates on its
own; the top-K respects a per-category cap, so one category cannot fill a list.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.serving.inference import prob_column
from mtlrec.serving.pairs import EXPOSURE, POPULARITY

CTCVR, CVR = "ctcvr", "cvr"


def term(name: str) -> Column:
    """The column a strategy term stands for (popularity + 1, exposure + 1: an item nobody
    clicked or was shown is last, not out)."""
    if name == "price":
        return F.col(S.PRICE)
    if name == "popularity":
        return F.col(POPULARITY) + F.lit(1.0)
    if name == "exposure":
        return F.col(EXPOSURE) + F.lit(1.0)
    return F.col(prob_column(name))  # click, purchase, ctcvr, cvr


_FLOOR = 1e-12  # log(0) guard: a zero or missing term makes the score tiny, not null


def with_funnel(scored: DataFrame, tasks: tuple[str, ...]) -> DataFrame:
    """Add p_ctcvr (= p_purchase: purchase is labelled over all exposures) and
    p_cvr (= p_purchase / p_click, capped at 1) when both tasks are modelled."""
    if not {"click", "purchase"} <= set(tasks):
        return scored
    click, purchase = F.col(prob_column("click")), F.col(prob_column("purchase"))
    return scored.withColumns(
        {
            prob_column(CTCVR): purchase,
            prob_column(CVR): F.least(purchase / F.greatest(click, F.lit(_FLOOR)), F.lit(1.0)),
        }
    )


def strategy_score(terms: Mapping[str, float]) -> Column:
    """prod over terms of term ** exponent, computed in log space."""
    log_score = sum(
        (
            F.lit(exponent) * F.log(F.greatest(F.coalesce(term(name), F.lit(0.0)), F.lit(_FLOOR)))
            for name, exponent in terms.items()
        ),
        F.lit(0.0),
    )
    return F.exp(log_score)


def ranked(
    scored: DataFrame, *, strategies: Mapping[str, Mapping[str, float]], k: int, category_cap: int = 0
) -> DataFrame:
    """The `k` best items per (strategy, user), ranked 1..k, ties by item id.

    With `category_cap` > 0 an item is passed over once its category already has
    that many better items in the user's list.
    """
    # one row per (strategy, pair) from one pass over `scored`: a union of one copy per
    # strategy would compute the candidates and the model's inference once per strategy
    per_strategy = F.explode(
        F.array(
            *[
                F.struct(F.lit(name).alias(S.STRATEGY), strategy_score(terms).alias(S.SCORE))
                for name, terms in strategies.items()
            ]
        )
    )
    both = scored.withColumn("_strategy", per_strategy).select("*", "_strategy.*").drop("_strategy")
    best_first = (F.col(S.SCORE).desc(), F.col(S.ITEM_ID))
    if category_cap > 0:
        in_category = Window.partitionBy(S.STRATEGY, S.USER_ID, S.CATEGORY_ID).orderBy(*best_first)
        both = both.withColumn("category_rank", F.row_number().over(in_category)).where(
            F.col("category_rank") <= category_cap
        )
    in_list = Window.partitionBy(S.STRATEGY, S.USER_ID).orderBy(*best_first)
    return both.withColumn(S.RANK, F.row_number().over(in_list)).where(F.col(S.RANK) <= k).drop("category_rank")
