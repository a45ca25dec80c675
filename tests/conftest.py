"""One SparkSession (Delta configured) and one local Ray for the whole test run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import ray
from pyspark.sql import SparkSession

from mtlrec.config import RayConfig, SparkConfig
from mtlrec.ray_cluster import ensure_ray
from mtlrec.spark_session import get_spark

# pyspark.testing imports pandas-on-Spark, which asks for this before any session
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")

TEST_SPARK = SparkConfig(
    master="local[2]",
    app_name="mtlrec-tests",
    shuffle_partitions=2,
    driver_memory="2g",
    ui=False,
    progress=False,
    conf={"spark.databricks.delta.snapshotPartitions": "2"},
)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = get_spark(TEST_SPARK)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    ensure_ray(RayConfig(num_cpus=4))
    yield
    ray.shutdown()
