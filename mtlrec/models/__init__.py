"""Multi-task ranking models: batch, shared blocks, model registry and loss."""

from mtlrec.models.batch import Batch, collate
from mtlrec.models.loss import MultiTaskLoss, build_loss
from mtlrec.models.registry import MODELS, build_model

__all__ = ["Batch", "MODELS", "MultiTaskLoss", "build_loss", "build_model", "collate"]
