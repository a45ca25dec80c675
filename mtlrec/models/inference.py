"""Batch inference on Spark executors: Arrow batches in, task probabilities out.

The model is loaded once per Python worker process and kept for every later batch
and task in that process (Spark reuses its Python workers), never once per batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pyarrow as pa
import torch
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from mtlrec import storage
from mtlrec.config import config_from_dict
from mtlrec.layout import feature_layout
from mtlrec.models.artifact import METADATA, LoadedModel, load_model
from mtlrec.models.batch import collate
from mtlrec.models.calibration import corrected, keep_rate

_LOADED: dict[tuple[str, str], LoadedModel] = {}


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
    negative down-sampling (`models.calibration`) before anything else sees them.
    """

    def predict(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        loaded = cached_model(model_path, token)
        rate = keep_rate(loaded.config)
        names = [*keep, *[prob_column(t) for t in tasks]]
        with torch.no_grad():
            for rb in batches:
                columns = {c: rb.column(c).to_numpy(zero_copy_only=False) for c in loaded.layout.columns}
                logits = loaded.model(collate(columns, loaded.layout))
                probs = {task: torch.sigmoid(logits[task]).numpy().astype("float64") for task in logits}
                fixed = corrected(probs, rate)  # needs every task's output, whichever are kept
                arrays = [rb.column(c) for c in keep] + [pa.array(fixed[t], type=pa.float64()) for t in tasks]
                yield pa.RecordBatch.from_arrays(arrays, names=names)

    return predict


def with_predictions(df: DataFrame, *, model_path: str, tasks: tuple[str, ...], keep: list[str]) -> DataFrame:
    """`df`'s `keep` columns plus the model's probability `p_<task>` for each task.

    `df` must hold every column of the model's feature layout; only those and `keep`
    are sent to the Python workers.
    """
    metadata = storage.read_json(f"{model_path}/{METADATA}")
    trained = config_from_dict(metadata["config"], source=f"{model_path}/{METADATA}")
    layout = feature_layout(trained.model, trained.train.tasks)
    kept = [f.name for f in df.schema.fields if f.name in keep]  # in the frame's order
    inputs = df.select(*kept, *[c for c in layout.columns if c not in kept])
    fields = [df.schema[c] for c in kept]
    schema = T.StructType(fields + [T.StructField(prob_column(t), T.DoubleType()) for t in tasks])
    predict = predict_batches(model_path, kept, tasks, artifact_token(model_path))
    return inputs.mapInArrow(predict, schema=schema)  # type: ignore[arg-type]
