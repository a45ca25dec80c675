"""`ray job submit` of the train entry point against a real local Ray head node."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import ray

from mtlrec import storage
from mtlrec.config import RayConfig
from mtlrec.ray_cluster import ensure_ray

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Ray head node on loopback with its job server; yields the job server URL.

    Every port is a free one: an earlier test's in-process Ray holds the defaults (the
    dashboard agent's 52365), and a head whose agent cannot bind answers each job
    submission with "No available agent". `ray stop --force` stops every Ray on the
    machine, so this process's own Ray is shut down first, and started again after.
    """
    ray.shutdown()
    gcs, dashboard = free_port(), free_port()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_ADDRESS": ""}
    ports = [
        f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}",
        f"--ray-client-server-port={free_port()}",
    ]  # fmt: skip
    start = [
        str(BIN / "ray"), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={gcs}",
        "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", "--num-cpus=4", "--include-dashboard=true",
        *ports,
    ]  # fmt: skip
    subprocess.run(start, check=True, env=env, capture_output=True, timeout=180)
    try:
        yield f"http://127.0.0.1:{dashboard}"
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], env=env, capture_output=True, timeout=120)
        # later tests share the session's local Ray (4 CPUs): a Ray that Train starts
        # on its own gets the machine's 2 and waits forever for its workers' CPUs
        ensure_ray(RayConfig(num_cpus=4))


@pytest.mark.slow
def test_train_job_submitted_with_ray_cli_writes_the_model(
    copy_pipeline_run: Callable[..., None], ray_head: str, tmp_path: Path
) -> None:
    # the shared run's samples: the job trains a new model of that run in this root
    copy_pipeline_run(tmp_path, tables_too=True)
    sets = ["--set", f"paths.root={tmp_path}", "--set", "train.baselines=[]", "--set", "train.epochs=1"]
    submit = [
        str(BIN / "ray"), "job", "submit", "--address", ray_head, "--working-dir", str(REPO), "--",
        "python", "jobs/train.py", "--conf", "conf/local.yaml", *sets,
    ]  # fmt: skip
    # Ray 2.60 clusters require a token: the local head's is in ~/.ray/auth_token
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_AUTH_MODE": "token"}
    for _ in range(12):
        proc = subprocess.run(submit, env=env, capture_output=True, text=True, timeout=600)
        # the head's job agent registers a few seconds after `ray start` returns
        if "No available agent to submit job" not in proc.stdout + proc.stderr:
            break
        time.sleep(5)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    summary = storage.read_json(f"{tmp_path}/runs/latest.json")
    model = Path(summary["artifacts"]["model"])
    assert model.is_relative_to(tmp_path) and (model / "model.pt").stat().st_size > 0
    assert (
        storage.read_json(str(model / "metadata.json"))["tables"]["samples"]["version"]
        == (summary["tables"]["samples"]["version"])
    )
