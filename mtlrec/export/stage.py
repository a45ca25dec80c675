"""`mtlrec export --format onnx|torchscript`: the run's model as files a server loads without mtlrec.

Writes `<model folder>/export/`: the graph (`model.onnx` or `model.ts.pt`), the
vocabulary (`vocabulary.parquet`) and `serving.json`. Not a stage of `mtlrec run`:
a model is exported when it is to be served, from its artifact alone (the config
only chooses the format).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mtlrec import storage
from mtlrec.config import Config
from mtlrec.export.formats import FORMATS
from mtlrec.export.serving import parquet_bytes, read_table, serving_spec, standardisation, vocabulary
from mtlrec.layout import FeatureLayout
from mtlrec.models.artifact import load_model
from mtlrec.run.artifact import OOV_ROW
from mtlrec.run.metrics import ExportMetrics
from mtlrec.run.summary import RunSummary, StageReport
from mtlrec.schema import FEATURE, FEATURE_STATS_TABLE, ID, INDEX, MEAN, STD, VOCABULARY_TABLE
from mtlrec.serving.graph import ServingModel

log = logging.getLogger(__name__)

EXPORT_DIR = "export"
VOCABULARY_FILE = "vocabulary.parquet"
SERVING_FILE = "serving.json"


def _write_vocabulary(
    tables: Mapping[str, Any], layout: FeatureLayout, out: str, limits: Mapping[str, int] | None
) -> int:
    """Write the vocabulary the model was trained with beside the graph; returns its entries."""
    if VOCABULARY_TABLE not in tables:
        log.warning("export: the model records no vocabulary table: a server must map ids to indexes itself")
        return 0
    entries = vocabulary(read_table(tables[VOCABULARY_TABLE], [FEATURE, ID, INDEX]), layout, limits)
    storage.write_bytes(f"{out}/{VOCABULARY_FILE}", parquet_bytes(entries))
    return int(entries.num_rows)


def _standardisation(tables: Mapping[str, Any]) -> dict[str, tuple[float, float]] | None:
    if FEATURE_STATS_TABLE not in tables:
        log.warning("export: the model records no feature_stats table: serving.json has no mean and std")
        return None
    return standardisation(read_table(tables[FEATURE_STATS_TABLE], [FEATURE, MEAN, STD]))


def export_model(model_dir: str, fmt: str) -> StageReport:
    """Export the artifact at `model_dir` in format `fmt` to `<model_dir>/export/`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(sorted(FORMATS))}")
    loaded = load_model(model_dir)
    metadata = loaded.metadata.to_dict()
    tables = {name: ref.to_dict() for name, ref in loaded.metadata.tables.items()}
    layout, rate, out, target = loaded.layout, loaded.keep_rate, f"{model_dir}/{EXPORT_DIR}", FORMATS[fmt]
    rows = {f.source: loaded.config.buckets(f.source) for f in layout.sparse}
    limits = rows if loaded.metadata.beyond_table == OOV_ROW else None

    exported = target.write(ServingModel.of(loaded), layout)
    size = len(exported.data)
    storage.write_bytes(f"{out}/{target.file}", exported.data)
    log.info("export: %s, %d bytes (%.2f MB), keep rate %s", f"{out}/{target.file}", size, size / 1e6, rate)
    entries = _write_vocabulary(tables, layout, out, limits)
    spec = serving_spec(
        layout,
        keep_rate=rate,
        model_file=target.file,
        details={"format": fmt, **exported.details},
        stats=_standardisation(tables),
        vocabulary_file=VOCABULARY_FILE if entries else None,
        metadata=metadata,
        sources={name: tables[name] for name in (VOCABULARY_TABLE, FEATURE_STATS_TABLE) if name in tables},
        rows=rows,
    )
    storage.write_json(f"{out}/{SERVING_FILE}", spec)
    log.info("export: %d vocabulary entries; inputs and outputs described in %s", entries, f"{out}/{SERVING_FILE}")
    return StageReport(
        rows_out=entries,
        metrics=ExportMetrics(format=fmt, file=f"{out}/{target.file}", bytes=size),
        artifacts={"export": out},
    )


def run(cfg: Config, summary: RunSummary) -> StageReport:
    return export_model(summary.model_path(), cfg.export.format)
