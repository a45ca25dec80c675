"""Multi-task ranking models: batch, shared blocks and the model registry."""

from mtlrec.models.batch import Batch, collate
from mtlrec.models.registry import MODELS, build_model

__all__ = ["Batch", "MODELS", "build_model", "collate"]
