"""Optional MLflow tracking: one MLflow run per trained model, holding its training and its evaluation.

Off unless `mlflow.tracking_uri` is set (config validation checks MLflow is installed);
mtlrec never imports MLflow otherwise.

- `train` (`log_training`): the model and train settings as params, every epoch's metrics
  by step, the best epoch's as `best.*` (tied to the MLflow model), the artifact folder
  under `model/`, and the model as an MLflow model (the caller's `log_model`, given a
  local copy of the folder). It
  returns the MLflow run id, which `train` writes into the artifact's metadata (`RUN_KEY`).
- `evaluate` (`log_evaluation`): the test metrics with flat keys (`test.click.auc`,
  `ranking.mmoe/gmv.ndcg`, ...) and the report folder under `report/`, into the model's
  MLflow run; a new run named after the mtlrec run when the model has none (trained with
  tracking off, or on another tracking server).

MLflow logs local files only, and `paths.root` may be remote: a folder is first copied
to a local temporary folder through `mtlrec.storage`, wherever it is.

A failure to log fails the stage with a `TrackingError` naming the tracking URI, raised
after the stage wrote its own output (the model, the report), which the message locates:
a user who configured tracking learns at once that the run is incomplete there, and
nothing trained is lost. The failed stage is not recorded as done, so running it again
trains (or evaluates) again and logs again.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from mtlrec import storage
from mtlrec.config import Config
from mtlrec.run.summary import redacted

log = logging.getLogger(__name__)

RUN_KEY = "mlflow_run_id"  # the entry of a model artifact's metadata naming its MLflow run
MODEL_PATH = "model"  # run artifact folder of the mtlrec model artifact
REPORT_PATH = "report"  # run artifact folder of the evaluation report
# MLflow allows these in metric names; anything else (a strategy's name) becomes "_"
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_\-. /]")


class TrackingError(RuntimeError):
    """Logging to the configured MLflow failed (after the stage's own output was written)."""


def _flat(section: str, values: Mapping[str, Any]) -> dict[str, str]:
    return {f"{section}.{k}": str(v) for k, v in values.items()}


def _numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k.replace("/", "."): float(v) for k, v in metrics.items() if isinstance(v, int | float)}


def flat_metrics(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Every number of a nested dict under its dotted path (`{"test": {"click": {"auc": x}}}`
    -> `test.click.auc`); lists, strings and booleans are left out."""
    out: dict[str, float] = {}
    for key, value in values.items():
        name = prefix + _NOT_IN_NAME.sub("_", str(key))
        if isinstance(value, Mapping):
            out |= flat_metrics(value, f"{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def model_run(record: Mapping[str, Any]) -> str | None:
    """The MLflow run id a model artifact's metadata record names, if any."""
    value = record.get(RUN_KEY)
    return str(value) if value else None


def _log_metrics(
    mlflow: ModuleType, run_id: str, metrics: Mapping[str, float], model_id: str | None = None, step: int = 0
) -> None:
    """`metrics` into run `run_id`, tied to the MLflow model `model_id`, or to none.

    Through the client: `mlflow.log_metrics` ties a metric given no model to every model
    the run logged at the same step (0), so epoch 0's metrics would read as the model's.
    """
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    rows = [Metric(key, value, now, step, model_id=model_id) for key, value in metrics.items()]
    mlflow.MlflowClient().log_batch(run_id, metrics=rows)


def _connect(cfg: Config) -> ModuleType:
    if cfg.mlflow.tracking_uri.startswith("file:"):
        # a folder store is what a laptop has; MLflow 3 asks to opt in to it
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    return mlflow


@contextmanager
def _failing_clearly(cfg: Config, saved: str) -> Iterator[None]:
    """Any error inside becomes a `TrackingError` naming the tracking URI and `saved`."""
    try:
        yield
    except Exception as err:
        uri, cause = redacted(cfg.mlflow.tracking_uri), redacted(str(err))
        raise TrackingError(f"logging to MLflow at {uri} failed ({type(err).__name__}: {cause}); {saved}") from err


@contextmanager
def local_copy(folder: str) -> Iterator[str]:
    """A local temporary copy of the files of `folder` (any filesystem `mtlrec.storage` reads)."""
    with tempfile.TemporaryDirectory(prefix="mtlrec-mlflow-") as tmp:
        local = os.path.join(tmp, os.path.basename(folder.rstrip("/")) or "folder")
        storage.copy_files_to_local(folder, local)
        yield local


def log_training(
    cfg: Config,
    *,
    run_name: str,
    history: Sequence[Mapping[str, Any]],
    best: Mapping[str, Any],
    model_dir: str,
    log_model: Callable[[str], str] | None = None,
) -> str | None:
    """Log one trained model, saved at `model_dir`, to a new MLflow run; returns its id (None when off).

    `log_model(local_dir)` logs the MLflow model of the artifact's local copy inside the run
    and returns its MLflow model id, to which the `best.*` metrics are tied.
    Raises `TrackingError` when MLflow fails.
    """
    if not cfg.mlflow.tracking_uri:
        return None
    settings = cfg.to_dict()
    with _failing_clearly(cfg, f"the model is saved at {model_dir}"):
        mlflow = _connect(cfg)
        mlflow.set_experiment(cfg.mlflow.experiment)
        with local_copy(model_dir) as local, mlflow.start_run(run_name=run_name) as run:
            mlflow.log_params({**_flat("model", settings["model"]), **_flat("train", settings["train"])})
            mlflow.log_artifacts(local, artifact_path=MODEL_PATH)
            # the model before any metric: MLflow 3 copies a run's metrics of step 0 to a newly
            # logged model, and the run's history would hold epoch 0 twice
            model_id = log_model(local) if log_model is not None else None
            for epoch in history:
                _log_metrics(mlflow, run.info.run_id, _numeric(epoch), step=int(epoch["epoch"]))
            _log_metrics(mlflow, run.info.run_id, {f"best.{k}": v for k, v in _numeric(best).items()}, model_id)
    log.info(
        "train: logged to MLflow %s, experiment %s, run %s",
        redacted(cfg.mlflow.tracking_uri),
        cfg.mlflow.experiment,
        run.info.run_id,
    )
    return str(run.info.run_id)


def _known_run(mlflow: ModuleType, run_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        mlflow.MlflowClient().get_run(run_id)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise
    return True


def log_evaluation(
    cfg: Config, *, model_run_id: str | None, run_name: str, metrics: Mapping[str, Any], report_dir: str
) -> str | None:
    """Log the test metrics (flat) and the report folder `report_dir` into the model's MLflow
    run `model_run_id`, or into a new run `run_name` when it is None or unknown to this
    tracking server; returns the MLflow run id (None when tracking is off).

    Raises `TrackingError` when MLflow fails.
    """
    if not cfg.mlflow.tracking_uri:
        return None
    with _failing_clearly(cfg, f"the report is written at {report_dir}"):
        mlflow = _connect(cfg)
        if model_run_id is not None and not _known_run(mlflow, model_run_id):
            log.warning(
                "evaluate: the model's MLflow run %s is not on %s: logging to a new run %s",
                model_run_id,
                redacted(cfg.mlflow.tracking_uri),
                run_name,
            )
            model_run_id = None
        if model_run_id is None:
            mlflow.set_experiment(cfg.mlflow.experiment)
        with (
            local_copy(report_dir) as local,
            mlflow.start_run(run_id=model_run_id, run_name=None if model_run_id else run_name) as run,
        ):
            _log_metrics(mlflow, run.info.run_id, flat_metrics(metrics))
            mlflow.log_artifacts(local, artifact_path=REPORT_PATH)
    log.info("evaluate: logged to MLflow %s, run %s", redacted(cfg.mlflow.tracking_uri), run.info.run_id)
    return str(run.info.run_id)
