"""Report sections as data, so report.md and report.html render the same content.

A section is a heading and an ordered list of blocks (paragraphs, tables, figures).
Each writer of a report part (metrics, behaviour, data quality, model card) builds
sections; `to_markdown` and `html.render_page` only format them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Image:
    """A PNG on the local disk; `name` is its caption and alt text."""

    name: str
    path: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


Block = str | Table | Image | Bullets  # a str is a paragraph (markdown inline code allowed)


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


def cell(value: Any) -> str:
    """How a table cell is shown: floats to 4 decimals, None as a dash."""
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def markdown_table(table: Table) -> list[str]:
    def md(value: Any) -> str:  # a raw record may hold pipes and line breaks
        return cell(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    return lines + ["| " + " | ".join(md(v) for v in row) + " |" for row in table.rows]


def to_markdown(title: str, sections: list[Section]) -> str:
    """The page as markdown; images link to their file beside the page."""
    lines = [f"# {title}"]
    for section in sections:
        lines += ["", f"## {section.title}"]
        images = [b for b in section.blocks if isinstance(b, Image)]
        for block in section.blocks:
            if isinstance(block, Table):
                lines += [""] + markdown_table(block)
            elif isinstance(block, Bullets):
                lines += [""] + [f"- {item}" for item in block.items]
            elif isinstance(block, str):
                lines += ["", block]
        if images:
            lines += [""] + [f"![{image.name}]({os.path.basename(image.path)})" for image in images]
    return "\n".join(lines) + "\n"


def save_figure(fig: Figure, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
