"""The one way mtlrec gets a SparkSession: Delta configured, Python workers on our venv."""

from __future__ import annotations

import os
import sys

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

from mtlrec.config import SparkConfig


def get_spark(cfg: SparkConfig) -> SparkSession:
    """Return the active session (as under spark-submit) or build one from `cfg`."""
    # Executors must run this interpreter, else they cannot import torch or mtlrec.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Under spark-submit the JVM is already up with the master, memory and Delta
    # packages the submitter chose; the config must not override them.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    builder = SparkSession.builder.appName(cfg.app_name)
    if not submitted:
        builder = (
            builder.master(cfg.master)
            .config("spark.driver.memory", cfg.driver_memory)
            .config("spark.ui.enabled", str(cfg.ui).lower())
            .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
        )
    builder = (
        builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.shuffle.partitions", str(cfg.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", str(cfg.progress).lower())
        # a backfill runs the same stages again in one session: Spark keeps the classes
        # it generated for their queries rather than compiling them again (its default
        # keeps 100; one `features` run alone generates ~500)
        .config("spark.sql.codegen.cache.maxEntries", "2000")
    )
    if cfg.event_log_dir:
        if "://" not in cfg.event_log_dir or cfg.event_log_dir.startswith("file:"):
            os.makedirs(cfg.event_log_dir.removeprefix("file://").removeprefix("file:"), exist_ok=True)
        builder = builder.config("spark.eventLog.enabled", "true").config("spark.eventLog.dir", cfg.event_log_dir)
    for key, value in cfg.conf.items():
        builder = builder.config(key, value)
    # Locally, pip's delta-spark names the matching Maven artifact and Spark resolves it.
    if not submitted and "spark.jars.packages" not in cfg.conf:
        builder = configure_spark_with_delta_pip(builder)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # the leaderboards rank their n best rows in one window: Spark warns each time that
    # "all data" moves to one partition (27 lines in the demo's output), for n rows
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    log4j = jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel("org.apache.spark.sql.execution.window.WindowExec", log4j.Level.ERROR)
    return spark
