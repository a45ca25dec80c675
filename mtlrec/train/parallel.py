"""How a worker's model is spread over the workers: `train.parallelism`.

- ddp: every worker holds the whole model; gradients are averaged (DDP).
- fsdp: PyTorch FSDP2 `fully_shard`. Every parameter is split along its first
  dimension, so each of N workers holds about 1/N of every embedding table and layer;
  a module's full weights are gathered only for its forward and backward. Each table
  is its own unit, so no more than one table is ever gathered besides the dense layers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import ray.train.torch
from torch import nn
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor

from mtlrec.train.objective import embedding_tables


def replicated(objective: nn.Module) -> nn.Module:
    return ray.train.torch.prepare_model(objective)  # DDP once there are two workers or more


def sharded(objective: nn.Module) -> nn.Module:
    # logits are views (a squeezed [B, 1]); nothing modifies them in place, which is
    # what FSDP warns about on every forward
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view tensor")
    objective.to(ray.train.torch.get_device())
    for table in embedding_tables(objective):
        fully_shard(table)
    fully_shard(objective)
    return objective


PARALLELISM: dict[str, Callable[[nn.Module], nn.Module]] = {"ddp": replicated, "fsdp": sharded}


def local_parameters(module: nn.Module) -> int:
    """Parameter values this process holds: its shards only, under FSDP."""
    return sum(p.to_local().numel() if isinstance(p, DTensor) else p.numel() for p in module.parameters())


def parameter_counts(objective: nn.Module) -> dict[str, int]:
    """This worker's share of the parameters, in total and in the embedding tables."""
    return {
        "params": local_parameters(objective),
        "embedding_params": sum(local_parameters(table) for table in embedding_tables(objective)),
    }
