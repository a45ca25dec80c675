"""The model's inputs for (user, item) pairs, built exactly as `features` builds samples:
the raw feature rows of the day, then `layout.model_inputs`.

A pair has no exposure: its context fields (`layout.ContextField`) take their serving
values, but the item's own (a brand), which are the item's last known values, and
any the pairs carry themselves (the parity test passes an exposure's).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.layout import ContextField, FeatureLayout, dense_sources, model_inputs

CLICKS_30D = "item_clicks_30d"  # the item feature popularity is read from
IMPRESSIONS_30D = "item_impressions_30d"  # the item feature exposure is read from
POPULARITY = "popularity"  # the item's clicks in the 30 days before the scoring day
EXPOSURE = "exposure"  # the item's impressions in the 30 days before the scoring day
# kept, raw, next to the model inputs
ITEM_ATTRIBUTES = (S.CATEGORY_ID, S.PRICE, POPULARITY, EXPOSURE)


def _serving_value(field: ContextField) -> Column:
    return F.lit(field.serving).cast("double" if field.numeric else "string").alias(field.name)


def feature_pairs(
    pairs: DataFrame,
    *,
    users: DataFrame,
    items: DataFrame,
    cross: DataFrame,
    vocabulary: DataFrame,
    stats: dict[str, tuple[float, float]],
    layout: FeatureLayout,
) -> DataFrame:
    """Each (user, item) pair with the model's feature columns and the item's attributes.

    `users`, `items` and `cross` are the feature tables of one day; the user x category
    row is the one of the item's category; ids get vocabulary indexes (out-of-vocabulary
    for ids unseen in training) and dense features the train split's standardisation.
    A pair whose user or item has no row in `users` / `items` is dropped.
    """
    sources = dense_sources(layout) | {f.name for f in layout.fields if f.item}
    user_cols = [S.USER_ID, *[c for c in users.columns if c in sources]]
    counted = [
        F.coalesce(F.col(source).cast("double"), F.lit(0.0)).alias(name)
        for name, source in ((POPULARITY, CLICKS_30D), (EXPOSURE, IMPRESSIONS_30D))
    ]
    given = [f.name for f in layout.fields if f.name in pairs.columns]
    fixed = (S.ITEM_ID, S.CATEGORY_ID, S.PRICE)
    own = [c for c in items.columns if c in sources and c not in fixed and c not in given]
    item_cols: list[Column | str] = [*fixed, *counted, *own]
    cross_cols = [S.USER_ID, S.CATEGORY_ID, *[c for c in cross.columns if c in sources]]
    served = [_serving_value(f) for f in layout.fields if not f.item and f.name not in pairs.columns]
    joined = (
        pairs.select(S.USER_ID, S.ITEM_ID, *given, *served)
        .join(users.select(*user_cols), on=S.USER_ID)
        .join(F.broadcast(items.select(*item_cols)), on=S.ITEM_ID)
        .join(cross.select(*cross_cols), on=[S.USER_ID, S.CATEGORY_ID], how="left")
    )
    return model_inputs(joined, layout=layout, vocabulary=vocabulary, stats=stats).select(
        S.USER_ID, S.ITEM_ID, *ITEM_ATTRIBUTES, *layout.sparse_columns, *layout.dense
    )
