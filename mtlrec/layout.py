"""The feature layout: which sample column feeds which tensor slot, and how it is filled.

Defined once, below both training and scoring, so a model trained on one layout is
scored on the same one. `features` writes the columns named here into `samples`;
the serving path builds the same columns for (user, candidate item) pairs with the
same two functions: `with_sparse_indices` (ids -> vocabulary indexes, 0 = out of
vocabulary) and `with_dense_inputs` (raw feature values -> log1p where marked, the
default of an id without history, then standardised with the train split's mean and
std). `model_inputs` chains them: it is the one way any frame becomes model inputs.

The layout knows nothing of the model's sizes: an index is the id's position in the
vocabulary, whatever the size of the embedding table that will look it up (the model
hashes indexes beyond its table into overflow rows, `models.embedding`).

Besides ids and histories, a layout holds context fields (`ContextField`): the hour
and day of week of every exposure, and the fields a log's mapping declares (a device,
a slot position, an item's brand). `features` chooses them and records the layout in
the run summary; training and the model artifact carry it from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mtlrec.schema import (
    CATEGORY_ID,
    DAY_OF_WEEK,
    FEATURE,
    HOUR,
    ID,
    INDEX,
    ITEM_ID,
    MEAN,
    PRICE,
    STD,
    TS,
    USER_ID,
)

OOV = 0  # index of an id missing from the vocabulary (too rare, new, or beyond the table)
WINDOWS = (1, 7, 30)  # days of history the count features sum
HISTORY_DAYS = max(WINDOWS)
COUNT_KINDS = ("impressions", "clicks", "carts", "purchases")
TOP_CATEGORIES = 3
CLICK_SEQUENCE = "user_click_seq"  # array<long> of item indexes, latest first, padded with OOV


@dataclass(frozen=True)
class SparseFeature:
    """An id column mapped to its vocabulary index; 0 is out of vocabulary."""

    name: str  # the index column in samples, e.g. "user_idx"
    source: str  # the raw id column it is looked up from


@dataclass(frozen=True)
class DenseFeature:
    """A dense input: its raw column, log1p or not, and its value for an id without history.

    `default=None` means "no evidence": after standardising it becomes 0, the train mean.
    """

    name: str
    log: bool = False
    default: float | None = 0.0
    source: str = ""  # the raw column; empty: same as `name`

    @property
    def column(self) -> str:
        return self.source or self.name


def count_name(prefix: str, kind: str, days: int) -> str:
    return f"{prefix}_{kind}_{days}d"


def _counts(prefix: str, windows: tuple[int, ...]) -> list[DenseFeature]:
    return [DenseFeature(count_name(prefix, k, w), log=True) for k in COUNT_KINDS for w in windows]


def _rates(prefix: str) -> list[DenseFeature]:
    return [
        DenseFeature(f"{prefix}_ctr_30d", default=None),
        DenseFeature(f"{prefix}_cvr_30d", default=None),
        DenseFeature(f"{prefix}_days_since_last", default=float(HISTORY_DAYS + 1)),
    ]


USER_FEATURES = (
    *_counts("user", WINDOWS),
    *_rates("user"),
    DenseFeature("user_spend_30d", log=True),
    *[DenseFeature(f"user_top{k}_share") for k in range(1, TOP_CATEGORIES + 1)],
)
ITEM_FEATURES = (
    *_counts("item", WINDOWS),
    *_rates("item"),
    # samples: the price shown on the exposure; scoring: the item's last known price
    DenseFeature("item_price", log=True, default=None, source=PRICE),
    DenseFeature("item_pop_pct", default=1.0),
)
CROSS_FEATURES = (*_counts("uc", (30,)), DenseFeature("uc_share_30d"))
DENSE_FEATURES = USER_FEATURES + ITEM_FEATURES + CROSS_FEATURES

# Dense features, in tensor order.
USER_DENSE = tuple(f.name for f in USER_FEATURES)
ITEM_DENSE = tuple(f.name for f in ITEM_FEATURES)
CROSS_DENSE = tuple(f.name for f in CROSS_FEATURES)
DENSE = USER_DENSE + ITEM_DENSE + CROSS_DENSE


@dataclass(frozen=True)
class ContextField:
    """A field the model reads beside ids and histories, from the exposure or its item.

    A categorical field is looked up in the vocabulary like an id (`<name>_idx`); a
    numeric one is a dense input, standardised like the others (a missing value is
    the train mean). Scoring has no exposure: a field of the exposure then takes
    `serving` (the mapping's value, else the train days' most frequent value, which
    `features` fills in), a field of the item (`item`) the item's last known value.
    """

    name: str  # the column of `events` (or, for the time of day, derived from `ts`)
    numeric: bool = False
    item: bool = False
    serving: Any = None  # a string or a number; None: unknown (numeric: the train mean)

    @property
    def sparse(self) -> SparseFeature | None:
        return None if self.numeric else SparseFeature(f"{self.name}_idx", self.name)

    @property
    def dense(self) -> DenseFeature | None:
        return DenseFeature(self.name, default=None) if self.numeric else None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "numeric": self.numeric, "item": self.item, "serving": self.serving}


# every log's context: when the exposure happened (UTC), as categories
TIME_FIELDS = tuple(ContextField(name) for name in (HOUR, DAY_OF_WEEK))


def with_time_context(df: DataFrame) -> DataFrame:
    """`df` (with `ts`) plus the time fields as strings, as the vocabulary holds them."""
    return df.withColumns({HOUR: F.hour(TS).cast("string"), DAY_OF_WEEK: F.dayofweek(TS).cast("string")})


@dataclass(frozen=True)
class FeatureLayout:
    sparse: tuple[SparseFeature, ...]
    dense: tuple[str, ...]
    tasks: tuple[str, ...]
    fields: tuple[ContextField, ...] = ()  # context fields, each also in `sparse` or `dense`

    @property
    def sparse_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.sparse)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column a model reads (labels excluded)."""
        return self.sparse_columns + self.dense

    def dense_feature(self, name: str) -> DenseFeature:
        """How the dense input `name` is made from its raw column."""
        for f in (*DENSE_FEATURES, *[c.dense for c in self.fields if c.dense is not None]):
            if f.name == name:
                return f
        raise KeyError(f"no dense feature {name!r} in the layout")

    def to_dict(self) -> dict[str, Any]:
        return {
            "sparse": [{"name": f.name, "source": f.source} for f in self.sparse],
            "dense": list(self.dense),
            "tasks": list(self.tasks),
            "fields": [f.to_dict() for f in self.fields],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FeatureLayout:
        """A layout as `to_dict` wrote it; one from before context fields has none."""
        return cls(
            sparse=tuple(SparseFeature(str(f["name"]), str(f["source"])) for f in raw["sparse"]),
            dense=tuple(str(c) for c in raw["dense"]),
            tasks=tuple(str(t) for t in raw["tasks"]),
            fields=tuple(ContextField(**f) for f in raw.get("fields", ())),
        )


ID_SPARSE = (
    SparseFeature("user_idx", USER_ID),
    SparseFeature("item_idx", ITEM_ID),
    SparseFeature("cat_idx", CATEGORY_ID),
)


def feature_layout(tasks: tuple[str, ...], fields: tuple[ContextField, ...] = ()) -> FeatureLayout:
    """The ids, the histories' dense features, then the context `fields`."""
    return FeatureLayout(
        sparse=(*ID_SPARSE, *[f.sparse for f in fields if f.sparse is not None]),
        dense=(*DENSE, *[f.name for f in fields if f.numeric]),
        tasks=tasks,
        fields=fields,
    )


def index_mapping(vocabulary: DataFrame, *, feature: SparseFeature) -> DataFrame:
    """`feature.source` -> `feature.name` for every id of the vocabulary of that feature."""
    return vocabulary.where(F.col(FEATURE) == F.lit(feature.source)).select(
        F.col(ID).alias(feature.source), F.col(INDEX).alias(feature.name)
    )


def with_sparse_indices(df: DataFrame, *, layout: FeatureLayout, vocabulary: DataFrame) -> DataFrame:
    """Add one vocabulary index column per sparse feature of `layout` (OOV when unknown).

    A context field's values are few (hours, devices, brands): its slice of the
    vocabulary is broadcast, so each field costs no shuffle of `df`.
    """
    context = {f.name for f in layout.fields}
    for feature in layout.sparse:
        mapping = index_mapping(vocabulary, feature=feature)
        if feature.source in context:
            mapping = F.broadcast(mapping)
        df = df.join(mapping, on=feature.source, how="left").withColumn(
            feature.name, F.coalesce(F.col(feature.name), F.lit(OOV)).cast("long")
        )
    return df


def dense_sources(layout: FeatureLayout) -> frozenset[str]:
    """The raw columns `with_dense_inputs` reads for `layout`."""
    return frozenset(layout.dense_feature(name).column for name in layout.dense)


def standardisation(stats: DataFrame) -> dict[str, tuple[float, float]]:
    """The `feature_stats` table as feature -> (mean, std): one small row per feature."""
    rows = stats.select(FEATURE, MEAN, STD).collect()
    return {r[FEATURE]: (r[MEAN] or 0.0, r[STD] or 1.0) for r in rows}


def _dense_value(feature: DenseFeature, stats: Mapping[str, tuple[float, float]] | None) -> Column:
    value = F.col(feature.column).cast("double")
    if feature.default is not None:
        value = F.coalesce(value, F.lit(feature.default))
    if feature.log:
        value = F.log1p(F.greatest(value, F.lit(0.0)))
    if stats is None:
        return value
    mean, std = stats[feature.name]
    return F.coalesce((value - F.lit(mean)) / F.lit(std if std > 0 else 1.0), F.lit(0.0))


def with_dense_inputs(
    df: DataFrame, *, layout: FeatureLayout, stats: Mapping[str, tuple[float, float]] | None
) -> DataFrame:
    """Replace the raw feature columns by the model's dense inputs (float).

    With `stats` (feature -> (mean, std) of the train split) the inputs are
    standardised and a missing value is 0; without, they are the unstandardised
    values the statistics are computed from (missing stays null).
    """
    values = {name: _dense_value(layout.dense_feature(name), stats) for name in layout.dense}
    cast = "float" if stats is not None else "double"
    return df.withColumns({name: value.cast(cast) for name, value in values.items()})


def model_inputs(
    df: DataFrame,
    *,
    layout: FeatureLayout,
    vocabulary: DataFrame,
    stats: Mapping[str, tuple[float, float]],
) -> DataFrame:
    """`df` (raw ids and raw feature values) with every column the model reads, as it reads it.

    The one place ids become vocabulary indexes and raw values become standardised
    inputs: `features` builds the `samples` rows with it and the serving path the
    (user, candidate item) pairs, so a pair and the sample of the same exposure get
    the same inputs.
    """
    indexed = with_sparse_indices(df, layout=layout, vocabulary=vocabulary)
    return with_dense_inputs(indexed, layout=layout, stats=stats)
