"""`export` settings: the file format an online server loads."""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("onnx", "torchscript")


@dataclass(frozen=True)
class ExportConfig:
    """`mtlrec export`: the run's model as a file an online server loads without mtlrec."""

    format: str = "onnx"  # onnx or torchscript (`mtlrec export --format ...`)

    def checks(self) -> list[tuple[bool, str]]:
        return [(self.format in FORMATS, f"export.format must be one of {FORMATS}, got {self.format!r}")]
