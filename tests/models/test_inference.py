from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from mtlrec.config import Config, ModelConfig
from mtlrec.layout import feature_layout
from mtlrec.models import build_model
from mtlrec.models.artifact import load_model, save_model
from mtlrec.models.inference import artifact_token, predict_batches

CFG = Config(model=ModelConfig(embedding_dim=4, user_buckets=16, item_buckets=8, category_buckets=4))
LAYOUT = feature_layout(CFG.model, CFG.train.tasks)


def write_artifact(path: Path, seed: int) -> None:
    torch.manual_seed(seed)
    model = build_model(CFG.model, LAYOUT)
    save_model(str(path), model.state_dict(), {"config": CFG.to_dict(), "seed": seed})


def frame(rows: int = 5) -> pa.RecordBatch:
    rng = np.random.default_rng(0)
    data = {f.name: rng.integers(0, f.buckets, rows) for f in LAYOUT.sparse}
    data |= {c: rng.normal(size=rows).astype(np.float32) for c in LAYOUT.dense}
    return pa.RecordBatch.from_pandas(pd.DataFrame(data | {"key": np.arange(rows)}), preserve_index=False)


def predicted(path: str, tasks: tuple[str, ...]) -> pd.DataFrame:
    """One batch through the executors' predict function, as a frame."""
    return next(predict_batches(path, ["key"], tasks, artifact_token(path))(iter([frame()]))).to_pandas()


def test_artifact_round_trips_through_weights_only_loading(tmp_path: Path) -> None:
    write_artifact(tmp_path, seed=0)
    torch.manual_seed(0)
    expected = build_model(CFG.model, LAYOUT).state_dict()

    loaded = load_model(str(tmp_path))

    assert loaded.metadata["seed"] == 0 and not loaded.model.training
    for name, value in loaded.model.state_dict().items():
        torch.testing.assert_close(value, expected[name])


def test_a_model_retrained_into_the_same_folder_is_not_served_from_the_cache(tmp_path: Path) -> None:
    tasks = CFG.train.tasks
    write_artifact(tmp_path, seed=0)
    first = predicted(str(tmp_path), tasks)
    write_artifact(tmp_path, seed=1)
    second = predicted(str(tmp_path), tasks)

    assert list(first.columns) == ["key", "p_click", "p_purchase"]
    assert not np.allclose(first["p_click"], second["p_click"])


def test_predictions_of_a_model_trained_on_down_sampled_negatives_are_corrected(tmp_path: Path) -> None:
    rate = 0.25
    unweighted = dataclasses.replace(
        CFG,
        features=dataclasses.replace(CFG.features, negative_keep_rate=rate),
        train=dataclasses.replace(CFG.train, reweight_negatives=False),
    )
    torch.manual_seed(3)
    model = build_model(CFG.model, LAYOUT)
    save_model(str(tmp_path / "plain"), model.state_dict(), {"config": CFG.to_dict()})
    save_model(str(tmp_path / "down"), model.state_dict(), {"config": unweighted.to_dict()})

    def predict(name: str) -> pd.DataFrame:
        path = str(tmp_path / name)
        return predicted(path, CFG.train.tasks)

    raw, fixed = predict("plain"), predict("down")

    p = raw["p_click"].to_numpy()
    q = p / (p + (1 - p) / rate)
    np.testing.assert_allclose(fixed["p_click"], q, rtol=1e-9)
    # purchases come only from clicks: down-sampling keeps p_purchase / p_click (at most 1)
    expected = np.minimum(q * raw["p_purchase"].to_numpy() / p, q)
    np.testing.assert_allclose(fixed["p_purchase"], expected, rtol=1e-9)
    assert (fixed["p_click"] < raw["p_click"]).all()
