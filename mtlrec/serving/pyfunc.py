"""The served graph as an MLflow pyfunc model: named layout inputs in, task probabilities out.

`mlflow.pyfunc.load_model(uri).predict(inputs)` takes the inputs of `serving.graph` (one
int64 vector per sparse feature of the layout, `user_idx`, `item_idx`, `cat_idx`, and the
float32 matrix `dense`, the layout's dense features in order) and returns a frame with one
column `p_<task>` per task: the probabilities `ServingModel` computes, corrected for negative
down-sampling, the same graph the ONNX export serialises. The signature names exactly
those inputs and outputs.

The weights travel as the mtlrec artifact folder itself, an artifact of the MLflow model
read back with `models.artifact.load_model` (tensors only); what MLflow pickles is an empty
instance of the class below, which refers to mtlrec by name. Loading the model therefore
needs mtlrec importable (installed from its checkout, it is not on PyPI), besides the
pinned requirements logged with it.

Imports MLflow: imported only when tracking is on.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import torch
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, Schema, TensorSpec

from mtlrec.layout import FeatureLayout
from mtlrec.models.artifact import load_model
from mtlrec.run.artifact import read_metadata
from mtlrec.serving.graph import ServingModel, example_inputs, input_names, output_names

NAME = "served_model"  # the MLflow model's name in its run: `runs:/<run id>/served_model`
ARTIFACT = "mtlrec_model"  # the mtlrec artifact folder among the MLflow model's artifacts
EXAMPLE_ROWS = 3
# what loading needs besides mtlrec itself; whichever of mlflow / mlflow-skinny is installed
REQUIREMENTS = ("mlflow", "mlflow-skinny", "torch", "numpy", "pandas", "pyarrow", "pyspark", "cloudpickle")


class ServedProbabilities(PythonModel):
    """`ServingModel` over the mtlrec artifact among the MLflow model's artifacts."""

    def load_context(self, context: PythonModelContext) -> None:
        loaded = load_model(context.artifacts[ARTIFACT])
        self.graph = ServingModel.of(loaded)
        self.inputs = input_names(loaded.layout)
        self.outputs = output_names(loaded.layout)

    # `model_input` has no hint on purpose: MLflow reads that hint to validate inputs, and none
    # it knows describes a dict of arrays (it warns on `Any`); the signature validates instead
    def predict(self, context: Any, model_input, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """`model_input`: input name -> array (MLflow has checked names, dtypes and shapes)."""
        with torch.no_grad():
            probs = self.graph(*[torch.as_tensor(np.asarray(model_input[name])) for name in self.inputs])
        return pd.DataFrame({name: p.numpy() for name, p in zip(self.outputs, probs, strict=True)})


def input_example(layout: FeatureLayout) -> dict[str, np.ndarray]:
    """`EXAMPLE_ROWS` rows of out-of-vocabulary ids with every dense feature at its train mean."""
    tensors = example_inputs(layout, rows=EXAMPLE_ROWS)
    return {name: t.numpy() for name, t in zip(input_names(layout), tensors, strict=True)}


def signature(layout: FeatureLayout) -> ModelSignature:
    """Inputs named as `serving.graph` names them (any batch size), one float column per task out."""
    inputs: list[ColSpec | TensorSpec] = [
        TensorSpec(array.dtype, (-1, *array.shape[1:]), name) for name, array in input_example(layout).items()
    ]
    outputs: list[ColSpec | TensorSpec] = [ColSpec("float", name) for name in output_names(layout)]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def requirements() -> list[str]:
    """The installed versions of what the model needs to load; listed, so MLflow need not
    infer them (which loads the model again in a subprocess)."""
    pins = []
    for dist in REQUIREMENTS:
        try:
            pins.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return pins


def log_served_model(local_artifact: str) -> str:
    """Log the artifact folder `local_artifact` (local) as an MLflow model in the active run;
    returns the MLflow model id."""
    layout = FeatureLayout.from_dict(read_metadata(local_artifact).layout)
    info = mlflow.pyfunc.log_model(
        name=NAME,
        python_model=ServedProbabilities(),
        artifacts={ARTIFACT: local_artifact},
        signature=signature(layout),
        input_example=input_example(layout),
        pip_requirements=requirements(),
    )
    return str(info.model_id)
