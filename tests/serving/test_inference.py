from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from mtlrec.layout import feature_layout
from mtlrec.models import build_model
from mtlrec.models.artifact import load_model
from mtlrec.models.config import ModelConfig
from mtlrec.run.artifact import ArtifactMetadata, save_artifact
from mtlrec.serving.inference import artifact_token, predict_batches

MODEL = ModelConfig(embedding_dim=4, user_buckets=16, item_buckets=8, category_buckets=4)
TASKS = ("click", "purchase")
LAYOUT = feature_layout(TASKS)


def write_artifact(path: Path, seed: int, keep_rate: float = 1.0) -> None:
    torch.manual_seed(seed)
    model = build_model(MODEL, LAYOUT)
    metadata = ArtifactMetadata(
        run_id="r1",
        model=dataclasses.asdict(MODEL),
        layout=LAYOUT.to_dict(),
        keep_rate=keep_rate,
        record={"seed": seed},
    )
    save_artifact(str(path), model.state_dict(), metadata)


def frame(rows: int = 5) -> pa.RecordBatch:
    rng = np.random.default_rng(0)
    data = {f.name: rng.integers(0, MODEL.buckets(f.source), rows) for f in LAYOUT.sparse}
    data |= {c: rng.normal(size=rows).astype(np.float32) for c in LAYOUT.dense}
    return pa.RecordBatch.from_pandas(pd.DataFrame(data | {"key": np.arange(rows)}), preserve_index=False)


def predicted(path: str) -> pd.DataFrame:
    """One batch through the executors' predict function, as a frame."""
    return next(predict_batches(path, ["key"], TASKS, artifact_token(path))(iter([frame()]))).to_pandas()


def test_artifact_round_trips_through_weights_only_loading_without_a_pipeline_config(tmp_path: Path) -> None:
    write_artifact(tmp_path, seed=0)
    torch.manual_seed(0)
    expected = build_model(MODEL, LAYOUT).state_dict()

    loaded = load_model(str(tmp_path))

    assert loaded.metadata.record["seed"] == 0 and not loaded.model.training
    assert "config" not in loaded.metadata.record and loaded.layout == LAYOUT and loaded.config == MODEL
    for name, value in loaded.model.state_dict().items():
        torch.testing.assert_close(value, expected[name])


def test_a_model_retrained_into_the_same_folder_is_not_served_from_the_cache(tmp_path: Path) -> None:
    write_artifact(tmp_path, seed=0)
    first = predicted(str(tmp_path))
    write_artifact(tmp_path, seed=1)
    second = predicted(str(tmp_path))

    assert list(first.columns) == ["key", "p_click", "p_purchase"]
    assert not np.allclose(first["p_click"], second["p_click"])


def test_predictions_of_a_model_trained_on_down_sampled_negatives_are_corrected(tmp_path: Path) -> None:
    rate = 0.25
    write_artifact(tmp_path / "plain", seed=3)
    write_artifact(tmp_path / "down", seed=3, keep_rate=rate)

    raw, fixed = predicted(str(tmp_path / "plain")), predicted(str(tmp_path / "down"))

    p = raw["p_click"].to_numpy()
    q = p / (p + (1 - p) / rate)
    np.testing.assert_allclose(fixed["p_click"], q, rtol=1e-9)
    # purchases come only from clicks: down-sampling keeps p_purchase / p_click (at most 1)
    expected = np.minimum(q * raw["p_purchase"].to_numpy() / p, q)
    np.testing.assert_allclose(fixed["p_purchase"], expected, rtol=1e-9)
    assert (fixed["p_click"] < raw["p_click"]).all()


FORMAT_1 = Path(__file__).parent.parent / "fixtures" / "model_v1"


def test_a_format_1_artifact_still_loads_and_scores_as_it_did_when_written() -> None:
    """tests/fixtures/model_v1 was written, with its inputs and probabilities, by the code
    before the artifact redesign: its metadata is the whole pipeline config of that time."""
    saved = dict(np.load(FORMAT_1 / "inputs.npz"))

    loaded = load_model(str(FORMAT_1))
    probs = loaded.predict({c: saved[c] for c in loaded.layout.columns})

    assert loaded.metadata.name == "mmoe" and loaded.keep_rate == 0.5  # reweight_negatives was false
    assert loaded.metadata.beyond_table == "oov"
    for task in TASKS:
        np.testing.assert_allclose(probs[task], saved[f"p_{task}"], rtol=1e-6, atol=1e-9)


def test_a_format_1_model_still_maps_indexes_beyond_its_tables_to_the_oov_row() -> None:
    saved = dict(np.load(FORMAT_1 / "inputs.npz"))
    loaded = load_model(str(FORMAT_1))
    columns = {c: saved[c][:4].copy() for c in loaded.layout.columns}
    beyond = dict(columns, user_idx=np.array([500, 16, 10_000, 99]))  # the fixture's user table has 16 rows
    oov = dict(columns, user_idx=np.zeros(4, dtype=np.int64))

    np.testing.assert_allclose(loaded.predict(beyond)["click"], loaded.predict(oov)["click"])
