"""report.html: the whole report as one self-contained page, for readers without the folder.

Every image is inlined as a base64 data URI and the CSS sits in the page: no
external reference at all, so the file can be mailed, attached to a ticket or opened
offline and looks the same. Plain Python over sections (`sections.py`) and plain
inputs (metrics dict, model card, PNG paths); no Spark.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mtlrec.evaluation.card import ModelCard, card_sections
from mtlrec.evaluation.report import metric_sections
from mtlrec.evaluation.sections import Block, Bullets, Image, Section, Table, cell

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #eee; padding-bottom: .2em; }
nav ol { columns: 2; font-size: .9em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .85em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; vertical-align: top; }
th { background: #f4f4f4; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.raw { font-family: monospace; max-width: 40em; word-break: break-all; }
code { background: #f4f4f4; padding: 0 .2em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .8em; color: #666; }
"""


@dataclass(frozen=True)
class Importance:
    """Feature importance as the report shows it: a paragraph and its plots (local PNG paths)."""

    text: str
    images: list[str] = field(default_factory=list)


def importance_section(importance: Importance | None) -> Section:
    if importance is None:
        return Section("Feature importance", ["Not computed in this run."])
    images: list[Block] = [Image(f"importance {i + 1}", path) for i, path in enumerate(importance.images)]
    return Section("Feature importance", [importance.text, *images])


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text)).replace("\n", "<br>")


def _image(image: Image) -> str:
    with open(image.path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    name = html.escape(image.name)
    return f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{name}</figcaption></figure>'


def _table(table: Table) -> str:
    def td(value: Any) -> str:
        kind = "num" if isinstance(value, int | float) else "raw" if isinstance(value, str) and len(value) > 60 else ""
        return f'<td class="{kind}">{html.escape(cell(value))}</td>' if kind else f"<td>{html.escape(cell(value))}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(td(v) for v in row) + "</tr>" for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _block(block: Block) -> str:
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Image):
        return _image(block)
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>"
    return f"<p>{_inline(block)}</p>"


def render_page(title: str, sections: list[Section]) -> str:
    """The page: title, a table of contents, then every section in order."""
    toc = "".join(f'<li><a href="#s{i}">{_inline(s.title)}</a></li>' for i, s in enumerate(sections))
    body = "".join(
        f'<section id="s{i}"><h2>{_inline(s.title)}</h2>' + "".join(_block(b) for b in s.blocks) + "</section>"
        for i, s in enumerate(sections)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><nav><ol>{toc}</ol></nav>{body}</body></html>\n"
    )


def write_html(
    path: str,
    *,
    title: str,
    metrics: Mapping[str, Any],
    metric_images: list[Image],
    card: ModelCard,
    behaviour: list[Section],
    quality: list[Section],
    importance: Importance | None = None,
) -> str:
    """Write report.html at `path` (local): model card, report.md's sections, importance, behaviour, quality."""
    sections = [
        *card_sections(card, metrics),
        *metric_sections(metrics, metric_images),
        importance_section(importance),
        *behaviour,
        *quality,
    ]
    with open(path, "w", encoding="utf-8") as out:
        out.write(render_page(title, sections))
    return path
