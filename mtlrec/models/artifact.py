"""A trained model, loaded from its artifact (`mtlrec.run.artifact`) and ready to predict.

`LoadedModel.predict` is the one inference function: the Spark executors of the
serving path, the ONNX export's check and the feature importance all go through it,
so every path gets the same probabilities from the same inputs.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mtlrec.config import from_dict
from mtlrec.layout import OOV, FeatureLayout
from mtlrec.models.batch import collate
from mtlrec.models.calibration import corrected
from mtlrec.models.config import ModelConfig
from mtlrec.models.registry import build_model
from mtlrec.run.artifact import OOV_ROW, ArtifactMetadata, read_metadata, read_weights

log = logging.getLogger(__name__)


def model_config(raw: Mapping[str, Any], source: str) -> ModelConfig:
    """The `model` section an artifact stored, on today's `ModelConfig`.

    A key this version no longer has is dropped with a warning (the weights decide
    whether the model still loads); a key added since takes its default.
    """
    fields = {f.name: f for f in dataclasses.fields(ModelConfig)}
    dropped = sorted(set(raw) - set(fields))
    if dropped:
        log.warning("%s: model settings %s are unknown to this version and ignored", source, dropped)
    config: ModelConfig = from_dict(ModelConfig, {k: v for k, v in raw.items() if k in fields}, source=source)
    return config


@dataclass(frozen=True)
class LoadedModel:
    model: nn.Module  # in eval mode
    config: ModelConfig
    layout: FeatureLayout
    metadata: ArtifactMetadata
    path: str

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.layout.tasks

    @property
    def keep_rate(self) -> float:
        return self.metadata.keep_rate

    def model_columns(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The layout's columns of `columns`, as this model reads them.

        A format-1 model was trained on samples whose indexes beyond its tables were
        cut to the out-of-vocabulary row: the same cut is applied here.
        """
        out = {c: np.asarray(columns[c]) for c in self.layout.columns}
        if self.metadata.beyond_table == OOV_ROW:
            for feature in self.layout.sparse:
                index = out[feature.name].astype(np.int64)
                out[feature.name] = np.where(index < self.config.buckets(feature.source), index, OOV)
        return out

    def predict(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per task, the probability on all exposures (corrected for negative down-sampling)."""
        with torch.no_grad():
            logits = self.model(collate(self.model_columns(columns), self.layout))
        probs = {task: torch.sigmoid(logits[task]).numpy().astype("float64") for task in logits}
        return corrected(probs, self.keep_rate)


def load_model(path: str) -> LoadedModel:
    """Rebuild the trained model (in eval mode) from its artifact folder; no pipeline config is read."""
    metadata = read_metadata(path)
    cfg = model_config(metadata.model, source=path)
    layout = FeatureLayout.from_dict(metadata.layout)
    model = build_model(cfg, layout)
    model.load_state_dict(read_weights(path))
    model.eval()
    return LoadedModel(model=model, config=cfg, layout=layout, metadata=metadata, path=path)
