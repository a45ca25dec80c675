"""Training checkpoints: model and optimizer state, written by every worker.

A checkpoint is a `torch.distributed.checkpoint` (DCP) folder: each worker writes the
shards it holds (all of a replica under DDP, its slices under FSDP) and rank 0 the
metadata, and Ray Train merges the workers' folders into one. DCP reshards on load,
so the same folder resumes N workers after a failure or loads into one process for
evaluation and scoring (`model_state_dict`), with no process group at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

MODEL_PREFIX = "model."  # the model's keys inside the objective's state dict


def save_state(folder: str, objective: nn.Module, optimizers: Sequence[torch.optim.Optimizer]) -> None:
    """Every worker calls this (a collective); each writes its own shards under `folder`."""
    model_state, optim_state = get_state_dict(objective, list(optimizers))
    dcp.save({"model": model_state, "optim": optim_state}, checkpoint_id=folder)


def load_state(folder: str, objective: nn.Module, optimizers: Sequence[torch.optim.Optimizer]) -> None:
    """Restore model and optimizers from `folder`, resharded to this worker group."""
    for optimizer in optimizers:
        _prime(optimizer)
    model_state, optim_state = get_state_dict(objective, list(optimizers))
    dcp.load({"model": model_state, "optim": optim_state}, checkpoint_id=folder)
    set_state_dict(objective, list(optimizers), model_state_dict=model_state, optim_state_dict=optim_state)


def model_state_dict(folder: str, objective: nn.Module) -> dict[str, torch.Tensor]:
    """The model's full state dict from a checkpoint, in this one process (N shards -> 1).

    `objective` is a plain (unsharded) `Objective` of the same config; its model's
    keys are returned without the objective's prefix, ready for `model.load_state_dict`.
    """
    state = {"model": objective.state_dict()}
    dcp.load(state, checkpoint_id=folder, no_dist=True)  # this one process reads every worker's shards
    return {k.removeprefix(MODEL_PREFIX): v for k, v in state["model"].items() if k.startswith(MODEL_PREFIX)}


def _prime(optimizer: torch.optim.Optimizer) -> None:
    """Create the empty state of a fresh SparseAdam, whose step rejects the dense zero
    gradients `get_state_dict` would otherwise use to create it."""
    if optimizer.state or not isinstance(optimizer, torch.optim.SparseAdam):
        return
    lrs = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = 0.0
        for p in group["params"]:
            empty = torch.zeros((1, 0), dtype=torch.int64, device=p.device)
            p.grad = torch.sparse_coo_tensor(empty, p.new_zeros((0, *p.shape[1:])), p.shape, check_invariants=True)
    optimizer.step()
    for group, lr in zip(optimizer.param_groups, lrs, strict=True):
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
