"""What a server needs beside the graph: the vocabulary and `serving.json`.

Both come from the tables the model was trained from, at the Delta versions its
metadata pinned (the same ones `score` reads), through `deltalake`: no Spark. The
vocabulary holds every id with an index of its own (`layout.index_mapping`); any other
id is out of vocabulary, index 0. The graph hashes an index beyond its embedding table
into an overflow row, as training did; a format-1 model (which saw such indexes as 0)
gets only the ids within its tables.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mtlrec import tables
from mtlrec.layout import OOV, FeatureLayout
from mtlrec.schema import FEATURE, ID, INDEX, MEAN, STD
from mtlrec.serving.graph import BATCH_AXIS, DENSE_INPUT, output_names

INPUT = "input"  # vocabulary column: the model input an id's index goes to

# how `layout.with_dense_inputs` turns a raw feature value into a model input
DENSE_RECIPE = (
    "x = raw value of `source`; if x is null and `default` is not null: x = default; "
    "if `log`: x = log1p(max(x, 0)); x = (x - mean) / std; if x is still null: x = 0"
)


def read_table(table: Mapping[str, Any], columns: list[str]) -> pa.Table:
    """`columns` of a Delta table `{"path", "version"}` as a model's metadata records it."""
    return tables.read_arrow(str(table["path"]), version=int(table["version"]), columns=columns)


def vocabulary(entries: pa.Table, layout: FeatureLayout, limits: Mapping[str, int] | None = None) -> pa.Table:
    """`input, feature, id, index` for every id of `entries` (the vocabulary table).

    With `limits` (id column -> rows), only the ids whose index is below it.
    """
    parts = []
    for feature in layout.sparse:
        mine = pc.field(FEATURE) == feature.source
        if limits is not None:
            mine = mine & (pc.field(INDEX) < limits[feature.source])
        rows = entries.filter(mine).sort_by(INDEX)
        inputs = pa.array([feature.name] * rows.num_rows, type=pa.string())
        parts.append(pa.table({INPUT: inputs, FEATURE: rows[FEATURE], ID: rows[ID], INDEX: rows[INDEX]}))
    return pa.concat_tables(parts)


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def standardisation(stats: pa.Table) -> dict[str, tuple[float, float]]:
    """feature -> (mean, std) of the `feature_stats` table, with `layout.with_dense_inputs`'
    fallbacks: no mean is 0, no (or zero) std is 1."""
    out = {}
    for row in stats.to_pylist():
        mean, std = row[MEAN] or 0.0, row[STD] or 1.0
        out[str(row[FEATURE])] = (float(mean), float(std) if std > 0 else 1.0)
    return out


def dense_columns(layout: FeatureLayout, stats: Mapping[str, tuple[float, float]] | None) -> list[dict[str, Any]]:
    """One entry per column of the `dense` input, in order: its raw source, transform and statistics."""
    columns = []
    for name in layout.dense:
        entry: dict[str, Any] = {"name": name}
        try:
            f = layout.dense_feature(name)
            entry |= {"source": f.column, "log": f.log, "default": f.default}
        except KeyError:  # a layout from before its dense features were described
            pass
        if stats is not None:
            mean, std = stats.get(name, (0.0, 1.0))
            entry |= {"mean": mean, "std": std}
        columns.append(entry)
    return columns


def serving_spec(
    layout: FeatureLayout,
    *,
    keep_rate: float,
    model_file: str,
    details: Mapping[str, object],
    stats: Mapping[str, tuple[float, float]] | None,
    vocabulary_file: str | None,
    metadata: Mapping[str, Any],
    sources: Mapping[str, Any],
    rows: Mapping[str, int],
) -> dict[str, Any]:
    """`serving.json`: everything a server needs to call the graph, from raw ids to probabilities.

    `rows`: id column -> the model's embedding rows (indexes beyond share overflow rows).
    """
    sparse = [
        {"name": f.name, "dtype": "int64", "shape": [BATCH_AXIS], "id_column": f.source, "buckets": rows[f.source]}
        for f in layout.sparse
    ]
    dense = {
        "name": DENSE_INPUT,
        "dtype": "float32",
        "shape": [BATCH_AXIS, len(layout.dense)],
        "recipe": DENSE_RECIPE,
        "standardised": stats is not None,
        "columns": dense_columns(layout, stats),
    }
    outputs = [
        {"name": name, "task": task, "dtype": "float32", "shape": [BATCH_AXIS]}
        for name, task in zip(output_names(layout), layout.tasks, strict=True)
    ]
    return {
        "model_file": model_file,
        **details,
        "model": metadata.get("model"),
        "run_id": metadata.get("run_id"),
        "inputs": [*sparse, dense],
        "outputs": outputs,
        "tasks": list(layout.tasks),
        # context fields (hour, day of week, a log's declared ones): a field of the exposure
        # the request does not give takes `serving`; an item field is the item's own
        "context": [f.to_dict() for f in layout.fields],
        "oov_index": OOV,
        "vocabulary_file": vocabulary_file,
        "keep_rate": keep_rate,
        "probabilities": "sigmoid of the logits, corrected in the graph for negative down-sampling at keep_rate",
        "tables": dict(sources),  # name -> {"path", "version"} the vocabulary and statistics came from
    }
