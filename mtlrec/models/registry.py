"""Model registry: config name -> model class."""

from __future__ import annotations

from torch import nn

from mtlrec.layout import FeatureLayout
from mtlrec.models.aitm import AITM
from mtlrec.models.config import ModelConfig
from mtlrec.models.esmm import ESMM
from mtlrec.models.mmoe import MMoE
from mtlrec.models.ple import PLE
from mtlrec.models.shared_bottom import SharedBottom
from mtlrec.models.single_task import SingleTask

MODELS: dict[str, type[nn.Module]] = {
    "single_task": SingleTask,
    "shared_bottom": SharedBottom,
    "mmoe": MMoE,
    "ple": PLE,
    "esmm": ESMM,
    "aitm": AITM,
}


def build_model(cfg: ModelConfig, layout: FeatureLayout) -> nn.Module:
    """Instantiate the model named by `cfg.name` for `layout`."""
    model_cls = MODELS.get(cfg.name)
    if model_cls is None:
        raise ValueError(f"unknown model {cfg.name!r}; known models: {', '.join(sorted(MODELS))}")
    return model_cls(cfg, layout)
