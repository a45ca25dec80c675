"""The one way mtlrec connects to Ray: an existing cluster by address, or a local one."""

from __future__ import annotations

import ray

from mtlrec.config import RayConfig


def ensure_ray(cfg: RayConfig) -> None:
    """Connect once per process; a second call (or an outer `ray.init`) is kept as is."""
    if ray.is_initialized():
        return
    if cfg.address:
        ray.init(address=cfg.address)
    else:
        ray.init(num_cpus=cfg.num_cpus, include_dashboard=False)
