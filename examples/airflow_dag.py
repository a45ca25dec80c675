"""An Airflow DAG running mtlrec once a day, one run date at a time.

mtlrec does not import Airflow: the DAG only calls the shell entry points users
already run by hand. Copy this file into your DAGs folder and set MTLREC_HOME to a
checkout with `make setup` done (or a cluster edge node with mtlrec installed).
"""

from __future__ import annotations

import datetime as dt
import os

from airflow import DAG
from airflow.operators.bash import BashOperator

MTLREC_HOME = os.environ.get("MTLREC_HOME", "/opt/mtlrec")
CONF = f"{MTLREC_HOME}/conf/cluster.yaml"
RAY_JOBS = os.environ.get("RAY_JOBS_ADDRESS", "http://ray-head:8265")
# one run per date (`mtlrec <stage> --date D`): each task runs its stage of run date D,
# skips it when that date already completed it (Airflow retries), and replaces only what
# that date wrote. Trigger with conf {"force": true} to recompute completed stages.
DATE = "--date {{ ds }}{{ ' --force' if (dag_run.conf or {}).get('force') else '' }}"

with DAG(
    dag_id="mtlrec_daily",
    start_date=dt.datetime(2026, 11, 1),
    schedule="@daily",
    catchup=True,  # backfill: Airflow runs the missed dates in order
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=10)},
) as dag:
    spark = {
        stage: BashOperator(
            task_id=stage,
            bash_command=(f"cd {MTLREC_HOME} && ./spark-submit.sh {stage} --conf {CONF} {DATE}"),
            env={"SPARK_MASTER": "yarn"},
            append_env=True,
        )
        for stage in ("ingest", "features", "evaluate", "score")
    }
    train = BashOperator(
        task_id="train",
        bash_command=(
            f"cd {MTLREC_HOME} && ray job submit --address {RAY_JOBS} --working-dir . -- "
            f"python jobs/train.py --conf {CONF} {DATE}"
        ),
    )
    spark["ingest"] >> spark["features"] >> train >> spark["evaluate"] >> spark["score"]
