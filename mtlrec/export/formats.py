"""Serialising the served graph: ONNX (the default) or TorchScript, as bytes.

ONNX goes through `torch.onnx.export` with the dynamo exporter (the default since
torch 2.9; it needs `onnxscript`), with a dynamic batch axis on every input and
output. TorchScript is a trace (deprecated by torch in favour of `torch.export`, kept
because libtorch servers still load it). Both return bytes, so the caller writes them
through `mtlrec.storage` to any filesystem.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch

from mtlrec.layout import FeatureLayout
from mtlrec.serving.graph import BATCH_AXIS, ServingModel, example_inputs, input_names, output_names

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exported:
    data: bytes
    details: dict[str, object]  # format-specific facts for serving.json (opset, ...)


def to_onnx(model: ServingModel, layout: FeatureLayout) -> Exported:
    """The ONNX model; fails if the exporter fixed the batch size instead of keeping it dynamic."""
    import onnx  # the `export` extra: only this command needs it

    inputs = example_inputs(layout)
    batch = torch.export.Dim(BATCH_AXIS)
    progress = io.StringIO()
    with torch.no_grad(), contextlib.redirect_stdout(progress):  # the exporter prints its steps
        program = torch.onnx.export(
            model,
            inputs,
            input_names=list(input_names(layout)),
            output_names=list(output_names(layout)),
            dynamic_shapes=(tuple({0: batch} for _ in inputs),),  # forward(*inputs): one tuple
            dynamo=True,
        )
    log.debug("torch.onnx.export: %s", progress.getvalue())
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    proto = program.model_proto
    for value in [*proto.graph.input, *proto.graph.output]:
        first = value.type.tensor_type.shape.dim[0]
        if not first.dim_param:
            raise RuntimeError(f"exported input/output {value.name!r} has a fixed batch size {first.dim_value}")
    onnx.checker.check_model(proto)
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    return Exported(proto.SerializeToString(), {"opset": int(opset), "onnx": onnx.__version__})


def to_torchscript(model: ServingModel, layout: FeatureLayout) -> Exported:
    """A traced TorchScript module: positional inputs in `serving.json` order, a tuple of probabilities."""
    with torch.no_grad():
        traced = torch.jit.trace(model, example_inputs(layout))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    return Exported(buffer.getvalue(), {"torch": torch.__version__})


@dataclass(frozen=True)
class Format:
    file: str
    write: Callable[[ServingModel, FeatureLayout], Exported]


FORMATS = {
    "onnx": Format("model.onnx", to_onnx),
    "torchscript": Format("model.ts.pt", to_torchscript),
}
