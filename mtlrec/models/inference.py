"""Batch inference on Spark executors: Arrow batches in, task probabilities out.

The model is loaded once per Python worker process and kept for every later batch
and task in that process (Spark reuses its Python workers), never once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd
import torch
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from mtlrec.models.artifact import LoadedModel, load_model
from mtlrec.models.batch import collate

_LOADED: dict[str, LoadedModel] = {}


def cached_model(path: str) -> LoadedModel:
    """The model at `path`, loaded at most once in this process."""
    if path not in _LOADED:
        torch.set_num_threads(1)  # one Spark task per core already
        _LOADED[path] = load_model(path)
    return _LOADED[path]


def prob_column(task: str) -> str:
    return f"p_{task}"


def predict_frames(
    model_path: str, keep: list[str], tasks: tuple[str, ...]
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """A `mapInPandas` function: each frame's `keep` columns plus `p_<task>` per task."""

    def predict(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        loaded = cached_model(model_path)
        with torch.no_grad():
            for frame in frames:
                batch = collate({c: frame[c].to_numpy() for c in loaded.layout.columns}, loaded.layout)
                logits = loaded.model(batch)
                out = frame[keep].copy()
                for task in tasks:
                    out[prob_column(task)] = torch.sigmoid(logits[task]).numpy().astype("float64")
                yield out

    return predict


def with_predictions(df: DataFrame, *, model_path: str, tasks: tuple[str, ...], keep: list[str]) -> DataFrame:
    """`df`'s `keep` columns plus the model's probability `p_<task>` for each task.

    `df` must hold every column of the model's feature layout.
    """
    fields = [f for f in df.schema.fields if f.name in keep]
    schema = T.StructType(fields + [T.StructField(prob_column(t), T.DoubleType()) for t in tasks])
    return df.mapInPandas(predict_frames(model_path, keep, tasks), schema=schema)  # type: ignore[arg-type]
