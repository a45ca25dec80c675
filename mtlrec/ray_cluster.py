"""The one way mtlrec connects to Ray: an existing cluster, or a local one."""

from __future__ import annotations

import os

import ray

from mtlrec.config import RayConfig


def ensure_ray(cfg: RayConfig) -> None:
    """Connect once per process; a second call (or an outer `ray.init`) is kept as is.

    `ray.address` in config, or `RAY_ADDRESS` (set by `ray job submit` for the job's
    driver), names a running cluster; otherwise a local Ray of this process starts on
    this machine, even when another Ray runs here (`ray.init()` without an address would
    join the latest one found in /tmp/ray and refuse `num_cpus`, or use a stale one).
    """
    if ray.is_initialized():
        return
    if cfg.address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=cfg.address or None)
    else:
        ray.init(address="local", num_cpus=cfg.num_cpus, include_dashboard=False)
