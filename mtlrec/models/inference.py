"""Batch inference on Spark executors: Arrow batches in, task probabilities out.

The model is loaded once per Python worker process and kept for every later batch
and task in that process (Spark reuses its Python workers), never once per batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pandas as pd
import torch
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from mtlrec import storage
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


def predict_frames(
    model_path: str, keep: list[str], tasks: tuple[str, ...], token: str = ""
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """A `mapInPandas` function: each frame's `keep` columns plus `p_<task>` per task.

    The probabilities are corrected for negative down-sampling (`models.calibration`)
    before anything else sees them.
    """

    def predict(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        loaded = cached_model(model_path, token)
        rate = keep_rate(loaded.config)
        with torch.no_grad():
            for frame in frames:
                batch = collate({c: frame[c].to_numpy() for c in loaded.layout.columns}, loaded.layout)
                logits = loaded.model(batch)
                probs = {task: torch.sigmoid(logits[task]).numpy().astype("float64") for task in logits}
                fixed = corrected(probs, rate)  # needs every task's output, whichever are kept
                out = frame[keep].copy()
                for task in tasks:
                    out[prob_column(task)] = fixed[task]
                yield out

    return predict


def with_predictions(df: DataFrame, *, model_path: str, tasks: tuple[str, ...], keep: list[str]) -> DataFrame:
    """`df`'s `keep` columns plus the model's probability `p_<task>` for each task.

    `df` must hold every column of the model's feature layout.
    """
    fields = [f for f in df.schema.fields if f.name in keep]
    schema = T.StructType(fields + [T.StructField(prob_column(t), T.DoubleType()) for t in tasks])
    predict = predict_frames(model_path, keep, tasks, artifact_token(model_path))
    return df.mapInPandas(predict, schema=schema)  # type: ignore[arg-type]
