"""Training checkpoints: model and optimizer state, written by every worker.

A checkpoint is a `torch.distributed.checkpoint` (DCP) folder: each worker writes the
shards it holds (all of a replica under DDP, its slices under FSDP) and rank 0 the
metadata, and Ray Train merges the workers' folders into one. DCP reshards on load,
so the same folder resumes N workers after a failure or loads into one process for
evaluation and scoring (`model_state_dict`), with no process group at all.

Loading never runs code a checkpoint brings: DCP unpickles the checkpoint's metadata
and its non-tensor items (optimizer settings) with plain pickle, so whoever could
write a checkpoint folder could run code in the process loading it. Here metadata is
unpickled with an allowlist of DCP's own metadata classes, and every item with
`torch.load(weights_only=True)`; tensors DCP already loads weights-only.
"""

from __future__ import annotations

import io
import pickle
import posixpath
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
import torch.distributed.checkpoint.metadata as dcp_metadata
from torch import nn
from torch.distributed.checkpoint import DefaultLoadPlanner, FileSystemReader
from torch.distributed.checkpoint.metadata import Metadata, StorageMeta
from torch.distributed.checkpoint.planner import ReadItem
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
    dcp.load({"model": model_state, "optim": optim_state}, **_safe_reading(folder))
    set_state_dict(objective, list(optimizers), model_state_dict=model_state, optim_state_dict=optim_state)


def model_state_dict(folder: str, objective: nn.Module) -> dict[str, torch.Tensor]:
    """The model's full state dict from a checkpoint, in this one process (N shards -> 1).

    `objective` is a plain (unsharded) `Objective` of the same config; its model's
    keys are returned without the objective's prefix, ready for `model.load_state_dict`.
    """
    state = {"model": objective.state_dict()}
    dcp.load(state, no_dist=True, **_safe_reading(folder))  # this one process reads every worker's shards
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


class UnsafeCheckpoint(RuntimeError):
    """A checkpoint outside the run's storage, or one that asks to run code when loaded."""


def check_location(checkpoint: str, storage: str) -> None:
    """Refuse a checkpoint that is not a folder of a run under `storage` (`<storage>/<run>/<checkpoint>`)."""
    scheme, path = _split(checkpoint)
    storage_scheme, root = _split(storage)
    parts = posixpath.relpath(path, root).split("/") if path.startswith(root + "/") else []
    if scheme != storage_scheme or len(parts) < 2 or ".." in parts:
        raise UnsafeCheckpoint(f"checkpoint {checkpoint} is not in a run folder of the Ray storage {storage}: refused")


def _split(uri: str) -> tuple[str, str]:
    scheme, sep, path = uri.partition("://")
    scheme, path = (scheme, path) if sep else ("", uri)
    return scheme or "file", posixpath.normpath("/" + path.lstrip("/"))


# what DCP's metadata pickles besides its own classes (torch 2.15)
_METADATA_GLOBALS = {
    ("torch", "Size"),
    ("torch.serialization", "_get_layout"),
    ("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
    ("pathlib", "PosixPath"),
    ("collections", "OrderedDict"),
}


class _MetadataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        dtype = module == "torch" and isinstance(getattr(torch, name, None), torch.dtype)
        if module == dcp_metadata.__name__ or (module, name) in _METADATA_GLOBALS or dtype:
            return super().find_class(module, name)
        raise UnsafeCheckpoint(f"checkpoint metadata refers to {module}.{name}: refused")


class _SafeReader(FileSystemReader):
    """DCP's reader, but its metadata unpickled with an allowlist."""

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        # FileSystemReader.read_metadata with plain pickle.load replaced
        with self.fs.create_stream(self._get_metadata_path(kwargs.get("rank")), "rb") as file:
            metadata = _MetadataUnpickler(file).load()
        if not isinstance(metadata, Metadata):
            raise UnsafeCheckpoint(f"{self.path}: its metadata is a {type(metadata).__name__}, not DCP's Metadata")
        storage_meta = getattr(metadata, "storage_meta", None) or StorageMeta()  # older checkpoints lack it
        storage_meta.load_id = self.load_id
        metadata.storage_meta = storage_meta
        return metadata


class _WeightsOnlyPlanner(DefaultLoadPlanner):
    """DCP's planner, but its non-tensor items read weights-only."""

    def load_bytes(self, read_item: ReadItem, value: io.BytesIO) -> None:
        # the parent unpickles with weights_only=False: give it a stream of what a
        # weights-only load let through, written by this process
        checked = io.BytesIO()
        torch.save(torch.load(value, weights_only=True), checked)
        checked.seek(0)
        super().load_bytes(read_item, checked)


def _safe_reading(folder: str) -> dict[str, Any]:
    return {"checkpoint_id": folder, "storage_reader": _SafeReader(folder), "planner": _WeightsOnlyPlanner()}
