"""Batch inference on Spark executors: Arrow batches in, task probabilities out.

The model is loaded once per Python worker process and kept for every later batch
and task in that process (Spark reuses its Python workers), never once per batch.
The driver reads only the artifact's metadata (`ServedModel`), never its weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import torch
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from mtlrec import storage
from mtlrec.layout import FeatureLayout
from mtlrec.models.artifact import LoadedModel, load_model
from mtlrec.run.artifact import METADATA, ArtifactMetadata, read_metadata
from mtlrec.run.summary import TableRef

_LOADED: dict[tuple[str, str], LoadedModel] = {}


@dataclass(frozen=True)
class ServedModel:
    """A model artifact as the driver sees it: where it is, what it reads and predicts."""

    path: str
    metadata: ArtifactMetadata

    @classmethod
    def load(cls, path: str) -> ServedModel:
        return cls(path, read_metadata(path))

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def run_id(self) -> str:
        return self.metadata.run_id

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.metadata.tasks

    @property
    def layout(self) -> FeatureLayout:
        return FeatureLayout.from_dict(self.metadata.layout)

    @property
    def tables(self) -> dict[str, TableRef]:
        """The Delta tables (and versions) the model was trained from."""
        return self.metadata.tables


def artifact_token(path: str) -> str:
    """Identifies the artifact now at `path`: a re-trained model in the same folder differs."""
    return hashlib.sha256(storage.read_bytes(f"{path}/{METADATA}")).hexdigest()


def cached_model(path: str, token: str = "") -> LoadedModel:
    """The model at `path` (as of `token`), loaded at most once in this process."""
    if (path, token) not in _LOADED:
        torch.set_num_threads(1)  # one Spark task per core already
        _LOADED[(path, token)] = load_model(path)
    return _LOADED[(path, token)]


def prob_column(task: str) -> str:
    return f"p_{task}"


def predict_batches(
    model_path: str, keep: list[str], tasks: tuple[str, ...], token: str = ""
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A `mapInArrow` function: each batch's `keep` columns plus `p_<task>` per task.

    Arrow in, Arrow out: the model's columns go to numpy without a pandas frame, and
    the kept columns pass through untouched. The probabilities are corrected for
    negative down-sampling (`LoadedModel.predict`) before anything else sees them.
    """

    def predict(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        loaded = cached_model(model_path, token)
        names = [*keep, *[prob_column(t) for t in tasks]]
        for rb in batches:
            columns = {c: rb.column(c).to_numpy(zero_copy_only=False) for c in loaded.layout.columns}
            probs = loaded.predict(columns)
            arrays = [rb.column(c) for c in keep] + [pa.array(probs[t], type=pa.float64()) for t in tasks]
            yield pa.RecordBatch.from_arrays(arrays, names=names)

    return predict


def with_predictions(df: DataFrame, *, model: ServedModel, keep: list[str]) -> DataFrame:
    """`df`'s `keep` columns plus the model's probability `p_<task>` for each of its tasks.

    `df` must hold every column of the model's feature layout; only those and `keep`
    are sent to the Python workers.
    """
    kept = [f.name for f in df.schema.fields if f.name in keep]  # in the frame's order
    inputs = df.select(*kept, *[c for c in model.layout.columns if c not in kept])
    fields = [df.schema[c] for c in kept]
    schema = T.StructType(fields + [T.StructField(prob_column(t), T.DoubleType()) for t in model.tasks])
    predict = predict_batches(model.path, kept, model.tasks, artifact_token(model.path))
    return inputs.mapInArrow(predict, schema=schema)  # type: ignore[arg-type]
