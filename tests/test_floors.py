"""The house rule, checked on the source: stages stand side by side on shared floors.

A stage package (one folder of `mtlrec/` per pipeline stage) imports floors below it,
never another stage package nor the orchestrator (`cli`, `schedule`): what one stage
made, another reads from a table or an artifact.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mtlrec"
STAGES = ("generate", "ingest", "features", "train", "evaluation", "scoring", "export")
ORCHESTRATOR = ("mtlrec.cli", "mtlrec.schedule")
# floors: each may import only itself and the floors listed below it
FLOORS = {
    "mtlrec.serving": ("mtlrec.models", "mtlrec.layout", "mtlrec.run", "mtlrec.tables", "mtlrec.metrics"),
    "mtlrec.models": ("mtlrec.layout", "mtlrec.run", "mtlrec.config", "mtlrec.schema", "mtlrec.storage"),
    "mtlrec.run": ("mtlrec.storage",),
}


def imported_modules(path: Path) -> set[str]:
    """Every `mtlrec...` module a source file imports, wherever in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "mtlrec" or name.startswith("mtlrec.")}


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def files_of(package: str) -> list[Path]:
    folder = PACKAGE / package.removeprefix("mtlrec.")
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]


def test_every_stage_folder_is_known_to_this_test() -> None:
    """A new stage folder must be added to STAGES, or the rule below would not see it."""
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "stage.py").exists()}
    assert folders == set(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_other_stage_and_not_the_orchestrator(stage: str) -> None:
    others = {f"mtlrec.{s}" for s in STAGES if s != stage}
    offences = [
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in files_of(f"mtlrec.{stage}")
        for module in imported_modules(path)
        if package_of(module) in others or package_of(module) in ORCHESTRATOR
    ]
    assert offences == []


@pytest.mark.parametrize("floor", sorted(FLOORS))
def test_a_floor_imports_only_the_floors_below_it(floor: str) -> None:
    allowed = {floor, *FLOORS[floor], "mtlrec.schema", "mtlrec.storage", "mtlrec.checks"}
    offences = [
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in files_of(floor)
        for module in imported_modules(path)
        if package_of(module) not in allowed and module != "mtlrec"
    ]
    assert offences == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    source = tmp_path / "bad.py"
    source.write_text("def f():\n    from mtlrec.scoring.stage import run\n    import mtlrec.cli\n")

    assert {"mtlrec.scoring.stage", "mtlrec.scoring.stage.run", "mtlrec.cli"} <= imported_modules(source)
