"""Cluster in a box: scheduled runs through `spark-submit.sh` on Spark `local-cluster`
(an executor JVM of its own, with its own Python workers) and a two-node Ray cluster.

What local mode hides fails here first: closures that do not pickle, files not
shipped to executors, paths only the driver sees (the script runs from a folder other
than the repository's). The test is the acceptance of scheduled runs too: a three-day
backfill of the suite's tiny generated log, then a forced re-run of its first day (in this
process: the cluster part is the backfill's; the fault tests re-run every stage) leaves
every table's row count unchanged, and a plain re-run of a day skips what is done.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from pyspark.sql import SparkSession

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.cli import main
from mtlrec.config import RayConfig
from mtlrec.ray_cluster import ensure_ray
from mtlrec.run import paths
from tests.conftest import TINY

REPO = Path(__file__).resolve().parents[1]
DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
CONF = str(REPO / "conf/local.yaml")
# the suite's tiny generated log (conftest.TINY: three days) and its settings
SETTINGS = [*TINY, "train.warm_start=true", "spark.shuffle_partitions=4"]


@pytest.fixture(scope="module")
def ray_two_nodes() -> Iterator[str]:
    """A Ray cluster of two nodes on this machine (2 CPUs each); yields its address.

    This process's own local Ray is shut down first (the cluster's head takes the
    default ports it holds) and started again after, for the tests that follow.
    """
    from ray.cluster_utils import Cluster

    ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "object_store_memory": 300 * 2**20})
    cluster.add_node(num_cpus=2, object_store_memory=300 * 2**20)
    cluster.wait_for_nodes()
    try:
        yield str(cluster.address)
    finally:
        ray.shutdown()  # a driver of this process may have connected to the cluster
        cluster.shutdown()
        ensure_ray(RayConfig(num_cpus=4))


def sets(root: Path, *more: str) -> list[str]:
    return [a for o in [f"paths.root={root}", *more, *SETTINGS] for a in ("--set", o)]


def submit(root: Path, ray_address: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # one executor JVM of 2 cores: what a separate executor hides is the same for two,
        # and a second JVM would compile every query's code once more on the same 2 cores
        "SPARK_MASTER": "local-cluster[1,2,1536]",
        "PYTHON": sys.executable,
        "PYSPARK_PYTHON": sys.executable,
    }
    command = [str(REPO / "spark-submit.sh"), *args, "--conf", CONF, *sets(root, f"ray.address={ray_address}")]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=2400)


def row_counts(root: Path) -> dict[str, int]:
    names = sorted(storage.list_dirs(f"{root}/tables"))
    return {name: tables.read_arrow(paths.table(str(root), name)).num_rows for name in names}


@pytest.fixture(scope="module")
def backfilled(
    spark: SparkSession, raw_log: Path, ray_two_nodes: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    root = tmp_path_factory.mktemp("cluster")
    shutil.copytree(raw_log, root / "raw")  # the default input
    shutil.copytree(raw_log.parent / "tables" / S.TRUTH_TABLE, Path(paths.table(str(root), S.TRUTH_TABLE)))
    done = submit(root, ray_two_nodes, "backfill", "--from", DAYS[0], "--to", DAYS[-1])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return root


@pytest.mark.slow
def test_backfill_runs_each_date_with_the_stages_its_data_allows(backfilled: Path) -> None:
    ran = {day: set(storage.read_json(f"{backfilled}/runs/{day.replace('-', '')}.json")["stages"]) for day in DAYS}
    # day 1 has only train samples, day 2 adds valid (a model), day 3 test (evaluation)
    assert ran[DAYS[0]] == {"ingest", "features"}
    assert ran[DAYS[1]] == {"ingest", "features", "train", "score"}
    assert ran[DAYS[2]] == {"ingest", "features", "train", "evaluate", "score"}
    # day 3 warm-started from day 2's model
    day2, day3 = (storage.read_json(f"{backfilled}/runs/{d.replace('-', '')}.json") for d in DAYS[1:])
    metadata = storage.read_json(f"{day3['artifacts']['model']}/metadata.json")
    assert metadata["warm_start"] == day2["artifacts"]["model"]


@pytest.mark.slow
def test_forced_rerun_of_a_past_day_leaves_every_row_count_unchanged_and_a_plain_rerun_skips(
    spark: SparkSession, backfilled: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = row_counts(backfilled)
    assert {S.EVENTS_TABLE, S.SAMPLES_TABLE, S.RECOMMENDATIONS_TABLE, S.LEADERBOARD_TABLE} <= set(before)
    assert min(before.values()) > 0
    versions = {name: tables.version(spark, paths.table(str(backfilled), name)) for name in before}

    # the first day again: every stage runs (the samples already hold the later days'
    # valid and test rows, so train, evaluate and score find what they need)
    assert main(["run", "--date", DAYS[0], "--force", "--conf", CONF, *sets(backfilled)]) == 0
    assert row_counts(backfilled) == before
    rewritten = {name: tables.version(spark, paths.table(str(backfilled), name)) for name in before}
    assert rewritten[S.EVENTS_TABLE] > versions[S.EVENTS_TABLE]  # it did run again

    # a plain re-run starts no engine: every stage is recognised as done, in this process
    caplog.set_level(logging.INFO, logger="mtlrec")
    assert main(["run", "--date", DAYS[1], "--conf", CONF, *sets(backfilled)]) == 0
    done = storage.read_json(f"{backfilled}/runs/{DAYS[1].replace('-', '')}.json")["stages"]
    assert {"ingest", "features", "train", "score"} <= set(done)
    for stage in done:
        assert f"== {stage}: already done for {DAYS[1]}" in caplog.text
    assert {name: tables.version(spark, paths.table(str(backfilled), name)) for name in before} == rewritten
