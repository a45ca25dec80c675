"""The model artifact: a folder with `model.pt` (state dict) and `metadata.json`.

`metadata.json` holds the full config the model was trained with, the Delta versions
of the tables it was trained from, and its metrics, so evaluation and scoring rebuild
exactly the model and feature layout that were trained.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mtlrec import storage
from mtlrec.config import Config, config_from_dict
from mtlrec.layout import FeatureLayout, feature_layout
from mtlrec.models.registry import build_model

WEIGHTS = "model.pt"
METADATA = "metadata.json"


@dataclass(frozen=True)
class LoadedModel:
    model: nn.Module
    layout: FeatureLayout
    config: Config
    metadata: dict[str, Any]


def save_model(path: str, state_dict: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Write the artifact; `metadata["config"]` must be a `Config.to_dict()`."""
    if "config" not in metadata:
        raise ValueError("model metadata needs the training config under 'config'")
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    storage.write_bytes(f"{path}/{WEIGHTS}", buffer.getvalue())
    storage.write_json(f"{path}/{METADATA}", metadata)


def load_weights(path: str) -> dict[str, torch.Tensor]:
    """The state dict of the artifact at `path` (tensors only: `weights_only=True`)."""
    state: dict[str, torch.Tensor] = torch.load(io.BytesIO(storage.read_bytes(f"{path}/{WEIGHTS}")), weights_only=True)
    return state


def load_model(path: str) -> LoadedModel:
    """Rebuild the trained model (in eval mode) from its artifact folder."""
    metadata = storage.read_json(f"{path}/{METADATA}")
    cfg = config_from_dict(metadata["config"], source=f"{path}/{METADATA}")
    layout = feature_layout(cfg.model, cfg.train.tasks)
    model = build_model(cfg.model, layout)
    model.load_state_dict(load_weights(path))
    model.eval()
    return LoadedModel(model=model, layout=layout, config=cfg, metadata=metadata)
