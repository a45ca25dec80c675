from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.features.vocabulary import appended, id_counts
from mtlrec.layout import SparseFeature, feature_layout, index_mapping, with_sparse_indices

DAY1, DAY2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
VOCAB_DDL = "feature string, id string, index long, count long, added date"
T0 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)


def visits(users: str) -> list[tuple[Any, ...]]:
    """One impression of i1 (category c1) per character of `users`."""
    return [(f"e{n}", T0, f"u{u}", "i1", "impression", "c1", 1.0) for n, u in enumerate(users)]


def test_new_frequent_ids_are_appended_and_known_ids_keep_their_index(spark: SparkSession, events_of: Any) -> None:
    existing = spark.createDataFrame(
        [("user_id", "uB", 1, 5, DAY1), ("user_id", "uA", 2, 3, DAY1)],
        VOCAB_DDL,
    )
    # uB is seen once now (below the threshold) but keeps its index; uC and uD are new
    # and frequent (uD more so, so it comes first); uE is too rare
    counts = id_counts(events_of(visits("BCCDDDE")), features=[S.USER_ID])

    actual = appended(counts, existing=existing, min_count=2, added=DAY2)

    expected = spark.createDataFrame([("user_id", "uD", 3, 3, DAY2), ("user_id", "uC", 4, 2, DAY2)], VOCAB_DDL)
    assertDataFrameEqual(actual, expected)


def test_a_first_vocabulary_starts_after_the_oov_index_per_feature(spark: SparkSession, events_of: Any) -> None:
    empty = spark.createDataFrame([], S.VOCABULARY_SCHEMA)

    actual = appended(id_counts(events_of(visits("AAB"))), existing=empty, min_count=1, added=DAY1)

    expected = spark.createDataFrame(
        [
            ("user_id", "uA", 1, 2, DAY1),
            ("user_id", "uB", 2, 1, DAY1),
            ("item_id", "i1", 1, 3, DAY1),
            ("category_id", "c1", 1, 3, DAY1),
        ],
        VOCAB_DDL,
    )
    assertDataFrameEqual(actual, expected)


def test_unknown_ids_get_the_oov_index_and_indexes_do_not_depend_on_any_model_size(spark: SparkSession) -> None:
    vocab = spark.createDataFrame(
        [
            ("user_id", "u1", 1, 9, DAY1),
            ("user_id", "u2", 40_000, 9, DAY1),  # far beyond any small table: still its own index
            ("item_id", "u1", 2, 9, DAY1),  # same id string in another feature: not a user
            ("item_id", "i1", 3, 9, DAY1),
        ],
        VOCAB_DDL,
    )
    layout = feature_layout(("click",))
    rows = spark.createDataFrame(
        [("u1", "i1", None), ("u2", "i9", "c1"), ("u3", None, "c1")],
        "user_id string, item_id string, category_id string",
    )

    actual = with_sparse_indices(rows, layout=layout, vocabulary=vocab).select(
        S.USER_ID, S.ITEM_ID, S.CATEGORY_ID, *layout.sparse_columns
    )

    expected = spark.createDataFrame(
        [("u1", "i1", None, 1, 3, 0), ("u2", "i9", "c1", 40_000, 0, 0), ("u3", None, "c1", 0, 0, 0)],
        "user_id string, item_id string, category_id string, user_idx long, item_idx long, cat_idx long",
    )
    assertDataFrameEqual(actual, expected)


def test_index_mapping_is_one_feature_of_the_vocabulary(spark: SparkSession) -> None:
    vocab = spark.createDataFrame([("item_id", "i1", 1, 2, DAY1), ("user_id", "i1", 7, 2, DAY1)], VOCAB_DDL)

    actual = index_mapping(vocab, feature=SparseFeature("item_idx", S.ITEM_ID))

    assertDataFrameEqual(actual, spark.createDataFrame([("i1", 1)], "item_id string, item_idx long"))
