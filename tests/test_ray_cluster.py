"""`ensure_ray` without an address starts a Ray of its own, whatever else runs here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import ray

from tests.conftest import REPO

SCRIPT = """
import json, ray
from mtlrec.config import RayConfig
from mtlrec.ray_cluster import ensure_ray
ensure_ray(RayConfig(num_cpus=3))
print(json.dumps({"cpus": ray.cluster_resources().get("CPU"), "gcs": ray.get_runtime_context().gcs_address}))
"""


def test_a_process_without_an_address_starts_its_own_ray_beside_one_started_by_ray_start(ray_local: None) -> None:
    # what `ray start --head` leaves for later drivers: its address in
    # <tmp>/ray/ray_current_cluster, here naming this process's running Ray (4 CPUs);
    # a plain `ray.init(num_cpus=...)` joins that cluster and raises (CI saw it). A short
    # temp dir: Ray's socket paths live under it
    tmp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    try:
        (Path(tmp) / "ray").mkdir()
        (Path(tmp) / "ray" / "ray_current_cluster").write_text(ray.get_runtime_context().gcs_address)
        env = {**os.environ, "RAY_ADDRESS": "", "RAY_TMPDIR": tmp, "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-3000:]
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    assert theirs["cpus"] == 3
    assert theirs["gcs"] != ray.get_runtime_context().gcs_address
