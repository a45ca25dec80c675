from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from deltalake import write_deltalake

from mtlrec.cli import main
from mtlrec.config import Config
from mtlrec.features.config import FeaturesConfig
from mtlrec.layout import feature_layout
from mtlrec.models import build_model
from mtlrec.models.config import ModelConfig
from mtlrec.run.artifact import ArtifactMetadata, save_artifact
from mtlrec.run.summary import RunSummary, TableRef
from mtlrec.train.config import TrainConfig

# trained unweighted on half the negatives: the export must carry keep rate 0.5
CFG = Config(
    model=ModelConfig(
        embedding_dim=4, expert_dims=(8,), tower_dims=(4,), user_buckets=4, item_buckets=3, category_buckets=2
    ),
    features=FeaturesConfig(negative_keep_rate=0.5),
    train=TrainConfig(reweight_negatives=False),
)
LAYOUT = feature_layout(CFG.train.tasks)
ADDED = dt.date(2026, 11, 1)


def vocabulary_rows(entries: list[tuple[str, str, int]]) -> pa.Table:
    feature, ids, index = zip(*entries, strict=True)
    return pa.table(
        {
            "feature": pa.array(feature, pa.string()),
            "id": pa.array(ids, pa.string()),
            "index": pa.array(index, pa.int64()),
            "count": pa.array([5] * len(entries), pa.int64()),
            "added": pa.array([ADDED] * len(entries), pa.date32()),
        }
    )


def write_run(root: Path) -> str:
    """A finished run as `train` leaves it: tables at pinned versions, the artifact, the summary."""
    vocabulary, stats = root / "tables" / "vocabulary", root / "tables" / "feature_stats"
    # user_buckets=4: u1..u3 have rows of their own (indexes 1-3), u4 (index 4) shares an overflow row
    known = [("user_id", "u1", 1), ("user_id", "u2", 2), ("user_id", "u3", 3), ("user_id", "u4", 4)]
    write_deltalake(str(vocabulary), vocabulary_rows([*known, ("item_id", "i1", 1), ("category_id", "c1", 1)]))
    write_deltalake(str(vocabulary), vocabulary_rows([("user_id", "late", 5), ("item_id", "i2", 2)]), mode="append")
    means = [None if i == 1 else float(i) for i in range(len(LAYOUT.dense))]
    stds = [0.0 if i == 2 else 2.0 for i in range(len(LAYOUT.dense))]
    stats_rows = {"feature": list(LAYOUT.dense), "mean": means, "std": stds, "spec": ["s"] * len(LAYOUT.dense)}
    write_deltalake(str(stats), pa.table(stats_rows))
    torch.manual_seed(0)
    model_dir = str(root / "models" / "r1")
    pinned = {
        "vocabulary": TableRef(str(vocabulary), 0),
        "feature_stats": TableRef(str(stats), 0),
    }
    metadata = ArtifactMetadata(
        run_id="r1", model=CFG.to_dict()["model"], layout=LAYOUT.to_dict(), keep_rate=0.5, tables=pinned
    )
    save_artifact(model_dir, build_model(CFG.model, LAYOUT).state_dict(), metadata)
    summary = RunSummary.new(str(root), CFG.to_dict(), run_id="r1")
    summary.artifacts["model"] = model_dir
    summary.save()
    return model_dir


def test_export_command_writes_the_graph_vocabulary_and_serving_spec_of_the_run(tmp_path: Path) -> None:
    model_dir = write_run(tmp_path)

    code = main(["export", "--format", "onnx", "--set", f"paths.root={tmp_path}", "--run-id", "r1"])

    assert code == 0
    out = Path(model_dir) / "export"
    spec = json.loads((out / "serving.json").read_text())
    assert spec["format"] == "onnx" and spec["model_file"] == "model.onnx" and spec["keep_rate"] == 0.5
    assert [i["name"] for i in spec["inputs"]] == ["user_idx", "item_idx", "cat_idx", "dense"]
    dense = spec["inputs"][-1]
    assert [c["name"] for c in dense["columns"]] == list(LAYOUT.dense)
    assert [(c["mean"], c["std"]) for c in dense["columns"][:4]] == [(0.0, 2.0), (0.0, 2.0), (2.0, 1.0), (3.0, 2.0)]
    assert dense["columns"][0]["source"] == "user_impressions_1d" and dense["columns"][0]["log"] is True
    assert spec["outputs"] == [
        {"name": f"p_{t}", "task": t, "dtype": "float32", "shape": ["batch"]} for t in ("click", "purchase")
    ]
    assert spec["oov_index"] == 0 and spec["tables"]["vocabulary"]["version"] == 0
    # the pinned version only (not the ids appended after it), every id of it
    vocabulary = pq.read_table(out / spec["vocabulary_file"]).to_pylist()
    assert [(r["input"], r["id"], r["index"]) for r in vocabulary] == [
        ("user_idx", "u1", 1),
        ("user_idx", "u2", 2),
        ("user_idx", "u3", 3),
        ("user_idx", "u4", 4),
        ("item_idx", "i1", 1),
        ("cat_idx", "c1", 1),
    ]
    run = RunSummary.load(str(tmp_path), "r1")
    assert run.artifacts["export"] == str(out) and run.metrics["export"]["bytes"] > 0
    served = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = {c: np.array([1, 0], dtype=np.int64) for c in LAYOUT.sparse_columns}
    p_click, p_purchase = served.run(None, feeds | {"dense": np.zeros((2, len(LAYOUT.dense)), np.float32)})
    assert p_click.shape == (2,) and ((p_purchase >= 0) & (p_purchase <= p_click)).all()


def test_torchscript_format_writes_its_own_file(tmp_path: Path) -> None:
    model_dir = write_run(tmp_path)

    code = main(["export", "--format", "torchscript", "--set", f"paths.root={tmp_path}", "--run-id", "r1"])

    assert code == 0
    spec = json.loads((Path(model_dir) / "export" / "serving.json").read_text())
    assert spec["format"] == "torchscript" and (Path(model_dir) / "export" / spec["model_file"]).stat().st_size > 0


def test_an_unknown_format_is_a_config_error_and_format_goes_with_export_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--format", "tflite", "--set", f"paths.root={tmp_path}"]) == 2
    assert "export.format" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--format", "onnx"])


def test_a_run_without_a_model_fails_with_one_line_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--set", f"paths.root={tmp_path}", "--new-run"]) == 1
    assert "no 'model'" in capsys.readouterr().err
