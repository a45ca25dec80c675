"""What the trainer optimises: a model and its loss as one module, and its optimizers.

Model and loss form one module so that DDP and FSDP see every trained parameter (a
learnt task weighting included) and so the loss runs inside `forward`, the only place
FSDP holds the gathered weights. The trainer never asks which model it holds: it
reaches the id embeddings, for their L2 penalty and for GradNorm, through forward
hooks on every `nn.Embedding` the model has.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mtlrec.config import Config
from mtlrec.layout import FeatureLayout, feature_layout
from mtlrec.models import Batch, build_model
from mtlrec.train.config import TrainConfig
from mtlrec.train.loss import MultiTaskLoss, build_loss


@dataclass(frozen=True)
class StepOutput:
    logits: dict[str, torch.Tensor]  # task -> [B]
    loss: torch.Tensor | None  # the total to minimise; None without labels
    per_task: dict[str, torch.Tensor]  # task -> weighted mean BCE (detached)


class Objective(nn.Module):
    def __init__(self, model: nn.Module, loss: MultiTaskLoss, embedding_l2: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.loss = loss
        self.embedding_l2 = embedding_l2
        self._looked_up: list[torch.Tensor] = []
        for table in embedding_tables(model):
            table.register_forward_hook(self._keep_lookup)

    def _keep_lookup(self, module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        if torch.is_grad_enabled():  # only a training step needs them
            self._looked_up.append(output)

    def forward(self, batch: Batch) -> StepOutput:
        self._looked_up = []
        logits = self.model(batch)
        looked_up, self._looked_up = self._looked_up, []
        if batch.labels is None or not torch.is_grad_enabled():
            return StepOutput(logits=logits, loss=None, per_task={})
        total, per_task = self.loss(logits, batch.labels, batch.weights, shared=looked_up)
        if self.embedding_l2 > 0 and looked_up:
            # an L2 prior on each row in proportion to how often the batch reads it
            total = total + self.embedding_l2 * sum(e.pow(2).sum(dim=-1).mean() for e in looked_up)
        return StepOutput(logits=logits, loss=total, per_task=per_task)


def model_layout(cfg: Config) -> FeatureLayout:
    """The inputs of the model `cfg` trains: its tasks, and the context fields `resolved`
    took from the run's features (`model.context`)."""
    return feature_layout(cfg.train.tasks, cfg.model.context)


def build_objective(cfg: Config) -> Objective:
    """The model and loss `cfg` describes, in one process (no parallelism yet)."""
    layout = model_layout(cfg)
    return Objective(build_model(cfg.model, layout), build_loss(cfg.train), cfg.train.embedding_l2)


def embedding_tables(module: nn.Module) -> list[nn.Embedding]:
    return [m for m in module.modules() if isinstance(m, nn.Embedding)]


def use_sparse_gradients(module: nn.Module) -> None:
    """Embedding tables return sparse gradients: only the rows a batch read are updated."""
    for table in embedding_tables(module):
        table.sparse = True


def build_optimizers(objective: nn.Module, tc: TrainConfig) -> list[torch.optim.Optimizer]:
    """Adam for dense parameters and dense tables, and SparseAdam for tables with sparse gradients.

    The regularisation is L2 added to the gradient at every step (coupled, as
    `torch.optim.Adam`'s `weight_decay`): `train.weight_decay` on the dense layers,
    `train.embedding_decay` on every row of each (dense) id table. A table row a batch
    did not read then moves toward 0 by about the learning rate (Adam normalises the
    step) and a row read often barely, so the shrinkage falls on rare ids
    (frequency-aware). A learnt task weighting is not decayed. `train.embedding_l2`, a
    penalty in the loss on the rows each batch reads, works with sparse tables too.
    """
    tables = embedding_tables(objective)
    sparse = {id(p) for t in tables if t.sparse for p in t.parameters()}
    dense_tables = {id(p) for t in tables if not t.sparse for p in t.parameters()}
    losses = {id(p) for m in objective.modules() if isinstance(m, MultiTaskLoss) for p in m.parameters()}
    not_layers = sparse | dense_tables | losses
    params = list(objective.parameters())
    groups = [
        {"params": [p for p in params if id(p) not in not_layers], "weight_decay": tc.weight_decay},
        {"params": [p for p in params if id(p) in dense_tables], "weight_decay": tc.embedding_decay},
        {"params": [p for p in params if id(p) in losses], "weight_decay": 0.0},
    ]
    # fused: one kernel over every parameter instead of a loop of small ops per tensor
    # (the decayed tables are stepped whole at every step); FSDP's sharded parameters
    # take the default
    fused = True if tc.parallelism == "ddp" else None
    optimizers: list[torch.optim.Optimizer] = [
        torch.optim.Adam([g for g in groups if g["params"]], lr=tc.lr, fused=fused)
    ]
    if sparse:
        optimizers.append(torch.optim.SparseAdam([p for p in params if id(p) in sparse], lr=tc.lr))
    return optimizers
