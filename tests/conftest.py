"""One SparkSession (Delta configured) and one local Ray for the whole test run; the
small generated funnel the features and serving tests build tables from; and one
end-to-end run whose generated log and tables the pipeline, cluster and Ray job tests
share (generating and building them is most of what those tests cost)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec import storage, tables
from mtlrec.cli import main
from mtlrec.config import SPARK_CONF, Config, RayConfig, SparkConfig
from mtlrec.features import stage as features_stage
from mtlrec.features.config import FeaturesConfig
from mtlrec.models.config import ModelConfig
from mtlrec.ray_cluster import ensure_ray
from mtlrec.run import paths
from mtlrec.run.summary import RunSummary, StageReport
from mtlrec.spark_session import get_spark

REPO = Path(__file__).resolve().parents[1]

# pyspark.testing imports pandas-on-Spark, which asks for this before any session
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")

TEST_SPARK = SparkConfig(
    master="local[2]",
    app_name="mtlrec-tests",
    shuffle_partitions=2,
    driver_memory="4g",
    ui=False,
    progress=False,
    conf={
        **SPARK_CONF,
        # one session runs the whole suite: what Spark keeps of every finished query for
        # its UI (plans, metrics) filled a 2 GB heap and made the JVM spend its time in GC
        "spark.sql.ui.retainedExecutions": "20",
        "spark.ui.retainedJobs": "50",
        "spark.ui.retainedStages": "50",
        "spark.ui.retainedTasks": "2000",
        # the suite runs every stage many times: with the classes of all of them kept, a
        # stage run again compiles ~15 classes instead of ~500 and takes a third less
        "spark.sql.codegen.cache.maxEntries": "5000",
    },
)


HEAP_AT_END: list[tuple[int, int]] = []  # (live, max) bytes of the session's JVM heap


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = get_spark(TEST_SPARK)
    yield session
    runtime = session.sparkContext._jvm.java.lang.Runtime.getRuntime()  # type: ignore[union-attr]
    runtime.gc()
    HEAP_AT_END.append((runtime.totalMemory() - runtime.freeMemory(), runtime.maxMemory()))
    session.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The suite's one JVM at its end, after a GC: the suite's memory margin."""
    for used, limit in HEAP_AT_END:
        terminalreporter.write_line(f"Spark driver heap at the end: {used / 2**30:.2f} of {limit / 2**30:.2f} GiB live")


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    ensure_ray(RayConfig(num_cpus=4))
    yield
    ray.shutdown()


FUNNEL_START = dt.date(2026, 11, 1)
FeaturesRun = Callable[..., StageReport]


def funnel(spark: SparkSession, days: int) -> DataFrame:
    """60 impressions on each of the first `days` days of 12 users and 8 items; a third
    clicked, half of those bought. A day's events are the same whatever `days` is."""
    n = F.col("id")
    pick = lambda salt, k: F.pmod(F.xxhash64(F.lit(salt), n), F.lit(k))  # noqa: E731
    day = F.date_add(F.lit(FUNNEL_START), (n / 60).cast("int"))
    shown = F.timestamp_seconds(F.unix_timestamp(day.cast("timestamp")) + pick("t", 72_000))
    base = spark.range(60 * days).select(
        n,
        shown.alias("shown"),
        F.format_string("u%d", pick("u", 12)).alias(S.USER_ID),
        pick("i", 8).alias("i"),
        (pick("c", 3) == 0).alias("clicked"),
        (pick("p", 2) == 0).alias("bought"),
    )
    kinds = [
        (S.IMPRESSION, 0, F.lit(True)),
        (S.CLICK, 300, F.col("clicked")),
        (S.PURCHASE, 1800, F.col("clicked") & F.col("bought")),
    ]
    steps = F.array(*[F.when(cond, F.struct(F.lit(k).alias("k"), F.lit(s).alias("s"))) for k, s, cond in kinds])
    ts = F.timestamp_seconds(F.unix_timestamp("shown") + F.col("e.s"))
    return base.select("*", F.explode(F.filter(steps, lambda e: e.isNotNull())).alias("e")).select(
        F.format_string("ev-%d-%s", n, F.col("e.k")).alias(S.EVENT_ID),
        ts.alias(S.TS),
        S.USER_ID,
        F.format_string("i%d", F.col("i")).alias(S.ITEM_ID),
        F.col("e.k").alias(S.EVENT_TYPE),
        F.format_string("c%d", F.col("i") % 3).alias(S.CATEGORY_ID),
        (F.col("i") + F.lit(1.0)).alias(S.PRICE),
        F.to_date(ts).alias(S.DT),
    )


def run_features(spark: SparkSession, root: Path, days: list[dt.date], **features: object) -> StageReport:
    """Write `days` of funnel events (replacing those dates), then run the stage as a new run would.

    Days 1-2 are train, day 3 valid, day 4 test (unless `features` sets the split).
    """
    events_path = paths.table(str(root), S.EVENTS_TABLE)
    version = tables.replace_dates(funnel(spark, len(days)), events_path, days)
    valid, test = FUNNEL_START + dt.timedelta(days=2), FUNNEL_START + dt.timedelta(days=3)
    settings = {"valid_start": valid, "test_start": test, "attribution_hours": 3, **features}
    fc = FeaturesConfig(**settings)  # type: ignore[arg-type]
    cfg = Config(features=fc, model=ModelConfig(user_buckets=8, item_buckets=64, category_buckets=8))
    cfg = dataclasses.replace(cfg, paths=dataclasses.replace(cfg.paths, root=str(root)))
    summary = RunSummary.new(str(root), cfg.to_dict())
    summary.record("ingest", 0.0, StageReport(tables={S.EVENTS_TABLE: version}))
    return features_stage.run(cfg, summary)


@pytest.fixture(scope="session")
def features_run(spark: SparkSession) -> FeaturesRun:
    """`features_run(root, days, **features)`: funnel events of `days`, then the features stage."""
    return functools.partial(run_features, spark)


FUNNEL_DAYS = [FUNNEL_START + dt.timedelta(days=n) for n in range(4)]


@dataclasses.dataclass(frozen=True)
class FunnelBuild:
    """The funnel's features as a daily schedule builds them: days 1-3, then day 4 added."""

    root: Path
    first: StageReport  # days 1-3 from nothing (a full build)
    added: StageReport  # day 4 as a daily increment


@pytest.fixture(scope="session")
def funnel_features(features_run: FeaturesRun, tmp_path_factory: pytest.TempPathFactory) -> FunnelBuild:
    """Shared, read only: a test that runs features again copies `root` first."""
    root = tmp_path_factory.mktemp("funnel")
    first = features_run(root, FUNNEL_DAYS[:3])
    return FunnelBuild(root=root, first=first, added=features_run(root, FUNNEL_DAYS))


# the suite's tiny generated log (`raw_log`): 3 days of dirty events, and the settings
# the fault, restart and cluster tests run every stage with on it
TINY = [
    "generate.start_date=2026-11-01",
    "generate.days=3",
    "generate.events=3000",
    "generate.users=120",
    "generate.items=40",
    "features.valid_start=2026-11-02",
    "features.test_start=2026-11-03",
    "train.epochs=1",
    "train.baselines=[]",
    "score.top_k=5",
    "score.catalogue_max=30",
    "score.popular=20",
    "evaluate.ranking_k=5",
    "evaluate.importance_rows=0",  # the report's extras are the pipeline test's
]


@pytest.fixture(scope="session")
def raw_log(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny generated log's `raw` folder (`dt=` folders of gzip JSON lines); the
    generator's truth sits beside it, at `../tables/truth`."""
    root = tmp_path_factory.mktemp("generated")
    run_cli(["generate", *[a for o in [f"paths.root={root}", *TINY] for a in ("--set", o)]])
    return root / "raw"


# the shared end-to-end run: a tiny generated log through every stage of `mtlrec run`
PIPELINE = [
    "generate.events=35000",
    "generate.users=600",
    "generate.items=250",
    "train.epochs=3",
    # ~10 steps per worker and epoch: the default recipe (lr 1e-3, L2 on every parameter
    # at every step; chosen on logs of 10^5+ ids) barely moves in 3 epochs here, so the
    # run trains as the defaults did before it (the stages are tested here, not the recipe)
    "train.lr=0.01",
    "train.weight_decay=0",
    "train.embedding_decay=0",
    "train.embedding_l2=0.003",
    "score.top_k=5",
    # fewer than the 250 items: candidates are generated, not the whole catalogue
    "score.catalogue_max=100",
    "score.popular=40",
    "score.category_cap=2",
    "evaluate.ranking_k=5",
]


def run_cli(argv: list[str]) -> None:
    """`mtlrec <argv>` in this process; if it fails, the assertion says what mtlrec said
    (its one-line reason and any stack it logged), not only the exit code."""
    said = io.StringIO()
    errors = logging.StreamHandler(said)
    errors.setLevel(logging.ERROR)
    logging.getLogger("mtlrec").addHandler(errors)
    try:
        with contextlib.redirect_stderr(said):
            code = main(argv)
    finally:
        logging.getLogger("mtlrec").removeHandler(errors)
        sys.stderr.write(said.getvalue())
    assert code == 0, f"mtlrec {argv[0]} exited {code}: {said.getvalue()[-4000:]}"


@pytest.fixture(scope="session")
def pipeline_summary(spark: SparkSession, ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`mtlrec run` with the built-in defaults (no --conf) and `PIPELINE`; its run summary."""
    root = tmp_path_factory.mktemp("pipeline")
    overrides = [f"paths.root={root}", f"mlflow.tracking_uri=file://{root}/mlruns", *PIPELINE]
    # no --conf: the built-in defaults are the demo's (conf/local.yaml spells them out)
    run_cli(["run", *[a for o in overrides for a in ("--set", o)]])
    summary: dict[str, Any] = storage.read_json(f"{root}/runs/latest.json")
    return summary


def copy_run(summary: dict[str, Any], to: Path, *, tables_too: bool = False) -> None:
    """Copy the shared run's generated log (and with `tables_too` every table and the run
    summary) to the data root `to`: the copy's stages read and write only under `to`."""
    root = Path(summary["config"]["paths"]["root"])
    shutil.copytree(root / "raw", to / "raw")
    if tables_too:
        shutil.copytree(root / "tables", to / "tables")
        # the run's own summary: later tests may start other runs in the shared root
        (to / "runs").mkdir()
        for name in (summary["run_id"], paths.LATEST):
            shutil.copyfile(root / "runs" / f"{summary['run_id']}.json", to / "runs" / f"{name}.json")
    else:  # the generator's known truth, which evaluate's oracle reads
        shutil.copytree(Path(paths.table(str(root), S.TRUTH_TABLE)), Path(paths.table(str(to), S.TRUTH_TABLE)))


@pytest.fixture(scope="session")
def copy_pipeline_run(pipeline_summary: dict[str, Any]) -> Callable[..., None]:
    """`copy_pipeline_run(to, tables_too=False)`: the shared run's log (and tables) under `to`."""
    return functools.partial(copy_run, pipeline_summary)


def killed_run(
    argv: list[str], when: Callable[[], bool], log: Path, *, env: dict[str, str] | None = None, timeout: float = 400
) -> float:
    """Start `mtlrec <argv>` in a process group of its own (its Spark JVM in it), with
    `env` added to this process's environment; SIGKILL the group the moment `when()`
    holds. Returns the seconds it ran."""
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    began = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mtlrec.cli", *argv],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": path, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while not when():
                assert proc.poll() is None, (
                    f"the run ended (exit {proc.returncode}) before the kill point:\n" + (log.read_text()[-3000:])
                )
                assert time.monotonic() - began < timeout, "no kill point within the timeout"
                time.sleep(0.02)
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return time.monotonic() - began


@pytest.fixture(scope="session")
def kill_mtlrec() -> Callable[..., float]:
    """`kill_mtlrec(argv, when, log, env=None)`: a real `mtlrec` process SIGKILLed when `when()` holds."""
    return killed_run
