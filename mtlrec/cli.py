"""The `mtlrec` console script: one subcommand per stage, and `run` to chain them all.

    mtlrec run --conf conf/local.yaml
    mtlrec train --conf conf/local.yaml --set train.epochs=5
    mtlrec run --date 2026-11-03                      # one run date, as a scheduler runs it
    mtlrec backfill --from 2026-11-01 --to 2026-11-07
    mtlrec export --format onnx                       # the latest run's model, for a server

A stage on its own continues the latest run (`<root>/runs/latest.json`), reading the
table versions and artifacts earlier stages recorded there; `run` starts a new one.
A dated run (`--date`, `backfill`) is the run of that date (`mtlrec.schedule`):
re-running it skips the stages it completed, unless `--force`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence

from mtlrec import schedule
from mtlrec.config import Config, ConfigError, load_config
from mtlrec.mapping import load_mapping
from mtlrec.run import paths
from mtlrec.run.metrics import EvaluateMetrics
from mtlrec.run.summary import RunSummary, new_run_id

log = logging.getLogger("mtlrec")

# stage name -> module with `run(cfg, summary) -> StageReport`, in pipeline order
STAGES = {
    "generate": "mtlrec.generate.stage",
    "ingest": "mtlrec.ingest.stage",
    "features": "mtlrec.features.stage",
    "train": "mtlrec.train.stage",
    "evaluate": "mtlrec.evaluation.stage",
    "score": "mtlrec.scoring.stage",
}
# subcommands that are not pipeline stages: `tune` trains like `train`, over a search space;
# `export` writes the run's model for an online server
COMMANDS = {**STAGES, "tune": "mtlrec.train.tune", "export": "mtlrec.export.stage"}


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mtlrec", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "stage", choices=[*COMMANDS, "run", "backfill"], help="a stage, `run` for all of them, `backfill` for dates"
    )
    parser.add_argument(
        "--conf", help="YAML config file (default: the built-in defaults, which conf/local.yaml spells out)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value; repeatable",
    )
    parser.add_argument("--run-id", help="continue (or start) this run instead of the latest")
    parser.add_argument("--new-run", action="store_true", help="start a new run for this stage")
    parser.add_argument("--date", type=_date, help="run: process this run date (YYYY-MM-DD) only")
    parser.add_argument("--from", dest="first", type=_date, help="backfill: first run date")
    parser.add_argument("--to", dest="last", type=_date, help="backfill: last run date (inclusive)")
    parser.add_argument("--force", action="store_true", help="dated runs: run again the stages a date completed")
    parser.add_argument("--format", help="export: onnx (default) or torchscript; same as --set export.format=...")
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="json: one JSON object per log line"
    )
    args = parser.parse_args(argv)
    if args.stage == "backfill" and not (args.first and args.last):
        parser.error("backfill needs --from and --to (the first and last run date)")
    if args.date and args.stage not in ("run", *schedule.DATED_STAGES):
        parser.error(f"--date goes with run or one of the stages {', '.join(schedule.DATED_STAGES)}")
    if (args.first or args.last) and args.stage != "backfill":
        parser.error("--from/--to (run dates) go with backfill")
    if args.format and args.stage != "export":
        parser.error("--format goes with export")
    if args.run_id is not None:
        try:
            paths.check_run_id(args.run_id)
        except ValueError as err:
            parser.error(str(err))
    return args


class StageFailed(Exception):
    """A stage raised; the cause is the stage's own error."""

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


def run_stage(name: str, cfg: Config, summary: RunSummary) -> None:
    """Run one stage, time it, and record it in the run summary."""
    module = importlib.import_module(COMMANDS[name])
    log.info("== %s: starting (run %s)", name, summary.run_id)
    start = time.perf_counter()
    try:
        # taken before the stage reads: an input changing while it runs makes the next run redo it
        fingerprint = schedule.input_fingerprint(name, cfg, summary)
        report = module.run(cfg, summary)
    except Exception as err:
        raise StageFailed(name) from err
    seconds = time.perf_counter() - start
    summary.record(name, seconds, report, fingerprint=fingerprint)
    summary.save()
    versions = ", ".join(f"{t} v{v}" for t, v in report.tables.items()) or "-"
    log.info(
        "== %s: done in %.1fs, rows in %s, rows out %s, tables %s",
        name,
        seconds,
        report.rows_in,
        report.rows_out,
        versions,
    )


def run_date(cfg: Config, day: dt.date, *, force: bool, only: str | None = None) -> None:
    """Run the stages of run date `day` its summary does not have yet (all with `force`),
    or only the stage `only` of it (as a scheduler's task per stage does)."""
    rid = schedule.run_id(day)
    if (only or not force) and RunSummary.exists(cfg.paths.root, rid):
        summary = RunSummary.load(cfg.paths.root, rid)
    else:
        # saved before any work: a forced run killed half-way must not leave the
        # previous run's "all done" summary in place
        summary = RunSummary.new(cfg.paths.root, cfg.to_dict(), run_id=rid)
        summary.save()
    log.info("=== run date %s (run %s)", day, rid)
    for name in [only] if only else schedule.DATED_STAGES:
        if name in summary.stages and not force:
            if schedule.unchanged(name, schedule.dated_config(cfg, day), summary):
                log.info("== %s: already done for %s, skipped (--force runs it again)", name, day)
                continue
            log.info("== %s: its inputs changed since it ran for %s: runs again", name, day)
        reason = schedule.skip_reason(name, summary)
        if reason:
            log.info("== %s: skipped for %s: %s", name, day, reason)
            continue
        days = schedule.event_days(cfg, summary) if name == "features" else None
        # the stage and what later stages made of its old output are stale from its
        # first commit on: they are done again, in this run or in the scheduler's next task
        summary.forget(schedule.DATED_STAGES[schedule.DATED_STAGES.index(name) :])
        summary.save()
        run_stage(name, schedule.dated_config(cfg, day, days), summary)


def pipeline(cfg: Config) -> list[str]:
    """The stages `run` chains: all of them, but `generate` only when no input is set."""
    return [name for name in STAGES if name != "generate" or not cfg.input.path]


def open_summary(args: argparse.Namespace, cfg: Config) -> RunSummary:
    root = cfg.paths.root
    if args.stage == "run" or args.new_run:
        return RunSummary.new(root, cfg.to_dict(), run_id=args.run_id or new_run_id())
    if args.run_id:
        try:
            return RunSummary.load(root, args.run_id)
        except FileNotFoundError:
            return RunSummary.new(root, cfg.to_dict(), run_id=args.run_id)
    return RunSummary.latest_or_new(root, cfg.to_dict())


def report_text(summary: RunSummary) -> str:
    """The closing table of `mtlrec run`: where things are, timings, test metrics."""
    lines = [f"run {summary.run_id}", "", "outputs:"]
    for name, table in summary.tables.items():
        lines.append(f"  {name:<16} {table.path} (v{table.version})")
    for name, path in summary.artifacts.items():
        lines.append(f"  {name:<16} {path}")
    lines += ["", f"  {'stage':<10} {'seconds':>8} {'rows in':>10} {'rows out':>10}"]
    for name, stage in summary.stages.items():
        lines.append(f"  {name:<10} {stage.seconds:>8.1f} {stage.rows_in or '-':>10} {stage.rows_out or '-':>10}")
    evaluated = EvaluateMetrics.read_from(summary.metrics)
    if evaluated:
        lines += ["", f"  {'task':<10} {'test AUC':>9} {'logloss':>9} {'oracle AUC':>11}"]
        for task, m in evaluated.test.items():
            oracle_auc = evaluated.oracle.get(task, {}).get("auc")
            shown = f"{oracle_auc:.4f}" if oracle_auc is not None else "-"
            lines.append(f"  {task:<10} {m['auc']:>9.4f} {m['logloss']:>9.4f} {shown:>11}")
    lines += ["", f"summary: {summary.path}"]
    return "\n".join(lines)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(log_format: str) -> None:
    """mtlrec's own progress at INFO; libraries only from WARNING up (py4j logs every
    reconnect of an idle gateway socket through the root logger)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("mtlrec").setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_format)
    try:
        format_override = [f"export.format={args.format}"] if args.format else []
        cfg = load_config(args.conf, [*args.overrides, *format_override])
        if args.stage in ("run", "backfill", "ingest") or args.date:
            load_mapping(cfg.input.mapping)  # a wrong mapping fails here, before any work
    except ConfigError as err:
        print(f"mtlrec: config error: {err}", file=sys.stderr)
        return 2
    if args.stage == "backfill" or args.date:
        try:
            days = schedule.days(args.first, args.last) if args.stage == "backfill" else [args.date]
        except ValueError as err:
            print(f"mtlrec: {err}", file=sys.stderr)
            return 2

        def dated() -> None:
            for day in days:
                run_date(cfg, day, force=args.force, only=None if args.stage in ("run", "backfill") else args.stage)

        return _guarded(dated)
    summary = open_summary(args, cfg)
    stages = pipeline(cfg) if args.stage == "run" else [args.stage]

    def stages_in_turn() -> None:
        for name in stages:
            run_stage(name, cfg, summary)

    code = _guarded(stages_in_turn)
    if code == 0 and args.stage == "run":
        print(report_text(summary))
    return code


def _guarded(work: Callable[[], object]) -> int:
    """Run `work`; a failure becomes one line on stderr a scheduler can show, and exit 1."""
    try:
        work()
    except Exception as caught:
        stage, err = (caught.stage, caught.__cause__) if isinstance(caught, StageFailed) else ("run", caught)
        if isinstance(err, (LookupError, FileNotFoundError, ValueError, RuntimeError)):
            print(f"mtlrec: {stage} failed: {err}", file=sys.stderr)  # a known failure: no stack trace
        else:
            log.error("%s failed unexpectedly", stage, exc_info=err)
            print(f"mtlrec: {stage} failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
