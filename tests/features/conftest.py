"""Inline events for the features tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from mtlrec import schema as S

EventsFactory = Callable[[list[tuple[Any, ...]]], DataFrame]


@pytest.fixture
def events_of(spark: SparkSession) -> EventsFactory:
    """Events from rows of (event_id, ts, user_id, item_id, event_type, category_id, price); dt from ts."""

    def make(rows: list[tuple[Any, ...]]) -> DataFrame:
        return spark.createDataFrame([(*r, r[1].date()) for r in rows], S.EVENTS_SCHEMA)

    return make
