from __future__ import annotations

import dataclasses
import functools
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from mtlrec.export.formats import to_onnx, to_torchscript
from mtlrec.layout import FeatureLayout, feature_layout
from mtlrec.models import MODELS, build_model, calibration, collate
from mtlrec.models.config import ModelConfig
from mtlrec.serving.graph import ServingModel, corrected

TASKS = ("click", "purchase")
CFG = ModelConfig(
    embedding_dim=4,
    hidden_dims=(16,),
    num_experts=3,
    specific_experts=1,
    ple_levels=2,
    expert_dims=(16,),
    tower_dims=(8,),
    dropout=0.0,
    user_buckets=64,
    item_buckets=32,
    category_buckets=8,
    embedding_overflow_rows=4,
)
LAYOUT = feature_layout(TASKS)
KEEP_RATE = 0.25
ROWS = 10_000


def model_columns(layout: FeatureLayout, rows: int, seed: int) -> dict[str, np.ndarray]:
    """Indexes in and beyond each table (the hashed overflow rows), dense values with NaNs."""
    rng = np.random.default_rng(seed)
    columns = {f.name: rng.integers(0, 2 * CFG.buckets(f.source), size=rows) for f in layout.sparse}
    for c in layout.dense:
        values = rng.normal(scale=2.0, size=rows)
        values[rng.random(rows) < 0.05] = np.nan
        columns[c] = values
    return columns


def trained_like(name: str, dot_interaction: bool = True) -> nn.Module:
    """A model with random weights, logits spread wide enough that the correction matters."""
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(CFG, name=name, dot_interaction=dot_interaction), LAYOUT)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


@functools.cache
def onnx_model(name: str, dot_interaction: bool = True) -> bytes:
    return to_onnx(ServingModel(trained_like(name, dot_interaction), LAYOUT, KEEP_RATE).eval(), LAYOUT).data


def session(data: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def feeds(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The server's side: one int64 vector per index column, the dense matrix in layout order."""
    inputs = {c: columns[c].astype(np.int64) for c in LAYOUT.sparse_columns}
    return inputs | {"dense": np.stack([columns[c] for c in LAYOUT.dense], axis=1).astype(np.float32)}


def scoring_probabilities(model: nn.Module, columns: dict[str, np.ndarray], rate: float) -> dict[str, np.ndarray]:
    """What `models.inference.predict_batches` computes: logits, sigmoid, then the numpy correction."""
    with torch.no_grad():
        logits = model(collate(columns, LAYOUT))
    probs = {t: torch.sigmoid(logits[t]).numpy().astype("float64") for t in logits}
    return calibration.corrected(probs, rate)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "dot_interaction"), [(name, True) for name in sorted(MODELS)] + [("mmoe", False)])
def test_onnx_probabilities_match_the_scoring_path_on_10k_rows(name: str, dot_interaction: bool) -> None:
    columns = model_columns(LAYOUT, ROWS, seed=1)
    model = trained_like(name, dot_interaction)

    outputs = session(onnx_model(name, dot_interaction)).run(None, feeds(columns))

    expected = scoring_probabilities(model, columns, KEEP_RATE)
    raw = scoring_probabilities(model, columns, 1.0)
    for task, got in zip(TASKS, outputs, strict=True):
        assert got.shape == (ROWS,)
        assert np.abs(got - expected[task]).max() < 1e-5, task
    # the check above would catch a graph without the correction: it moves p_click this much
    assert np.abs(expected["click"] - raw["click"]).max() > 0.05


def test_the_onnx_file_loads_with_onnxruntime_alone_and_names_inputs_after_the_layout(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(onnx_model("mmoe"))
    script = (
        "import sys, json, onnxruntime as ort\n"
        f"s = ort.InferenceSession({str(path)!r}, providers=['CPUExecutionProvider'])\n"
        "assert not any(m.split('.')[0] in ('torch', 'mtlrec') for m in sys.modules), 'imported torch or mtlrec'\n"
        "print(json.dumps([[i.name for i in s.get_inputs()], [o.name for o in s.get_outputs()],"
        " [i.type for i in s.get_inputs()], [i.shape for i in s.get_inputs()]]))\n"
    )

    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)

    names, outputs, types, shapes = json.loads(out.stdout)
    assert names == [*LAYOUT.sparse_columns, "dense"] == ["user_idx", "item_idx", "cat_idx", "dense"]
    assert outputs == ["p_click", "p_purchase"]
    assert types == ["tensor(int64)"] * 3 + ["tensor(float)"]
    assert all(isinstance(shape[0], str) for shape in shapes)  # a named, dynamic batch axis
    assert shapes[-1][1] == len(LAYOUT.dense)


def test_torchscript_probabilities_match_the_scoring_path() -> None:
    columns = model_columns(LAYOUT, 2_000, seed=2)
    model = trained_like("ple")
    data = to_torchscript(ServingModel(model, LAYOUT, KEEP_RATE).eval(), LAYOUT).data
    loaded = torch.jit.load(io.BytesIO(data))
    inputs = feeds(columns)

    with torch.no_grad():
        outputs = loaded(*[torch.from_numpy(inputs[c]) for c in [*LAYOUT.sparse_columns, "dense"]])

    expected = scoring_probabilities(model, columns, KEEP_RATE)
    for task, got in zip(TASKS, outputs, strict=True):
        assert np.abs(got.numpy() - expected[task]).max() < 1e-5, task


@pytest.mark.parametrize("rate", [1.0, 0.5, 0.01])
def test_the_torch_correction_equals_the_numpy_one_at_the_extremes(rate: float) -> None:
    p = np.array([0.0, 1e-9, 0.01, 0.3, 0.9, 1.0])
    buy = np.array([0.0, 1e-9, 0.02, 0.1, 0.95, 1.0])

    got = corrected({"click": torch.tensor(p), "purchase": torch.tensor(buy)}, rate)

    expected = calibration.corrected({"click": p, "purchase": buy}, rate)
    for task in TASKS:
        np.testing.assert_allclose(got[task].numpy(), expected[task], rtol=1e-12, atol=1e-15)
