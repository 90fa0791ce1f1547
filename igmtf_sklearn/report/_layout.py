"""The report's page: style, summary cards, sections of tables and figures, as one HTML string."""

from __future__ import annotations

import base64
import html
import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._figures import FIGURES, SECTIONS

STYLE = """
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       background: #f3f4f6; color: #1f2328; }
header { background: #1f2d3d; color: #fff; padding: 1.1em 2em 0.9em 2em; }
header h1 { margin: 0 0 0.2em 0; font-size: 1.55em; }
header .meta { color: #c9d1d9; font-size: 0.92em; }
nav { margin-top: 0.6em; } nav a { color: #9ecbff; margin-right: 1.2em; text-decoration: none; }
main { max-width: 1500px; margin: 0 auto; padding: 0.2em 1.5em 3em 1.5em; }
section { background: #fff; border-radius: 8px; padding: 0.6em 1.4em 1.2em 1.4em;
          margin-top: 1.3em; box-shadow: 0 1px 3px rgba(0, 0, 0, 0.08); }
h2 { font-size: 1.3em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.3em; }
h3 { font-size: 1.0em; margin: 0.4em 0; color: #333; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(165px, 1fr));
         gap: 0.7em; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.55em 0.8em; }
.card .value { font-size: 1.45em; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .label { color: #57606a; font-size: 0.83em; }
.card.good .value { color: #1a7f37; } .card.bad .value { color: #cf222e; }
.tables { display: flex; flex-wrap: wrap; gap: 1em 2em; margin-bottom: 0.8em; }
.tables > div { flex: 1 1 380px; min-width: 0; overflow-x: auto; }
.tables > div.wide { flex-basis: 100%; }
table.metrics { border-collapse: collapse; width: 100%; font-size: 0.88em;
                font-variant-numeric: tabular-nums; }
table.metrics th, table.metrics td { padding: 0.22em 0.7em; border-bottom: 1px solid #eaeef2;
                                     text-align: right; white-space: nowrap; }
table.metrics th { background: #f6f8fa; }
table.metrics th:first-child, table.metrics td:first-child { text-align: left; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 0.6em 1.4em; }
.grid figure.wide { grid-column: 1 / -1; }
figure { margin: 0.4em 0; } figure img { width: 100%; height: auto; display: block; }
figcaption { color: #57606a; font-size: 0.86em; margin-top: 0.2em; }
.note { color: #57606a; font-size: 0.88em; }
@media (max-width: 1000px) { .grid { grid-template-columns: 1fr; } }
"""


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, numbers.Number | str | bool | np.generic)


def as_frame(table) -> pd.DataFrame:
    """A metric table as a DataFrame: a frame as is, a Series or flat dict as one column,
    a dict of dicts or Series as one column per entry."""
    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, pd.Series):
        return table.to_frame(table.name if table.name is not None else "value")
    if isinstance(table, Mapping):
        if all(_is_scalar(v) for v in table.values()):
            return pd.Series(dict(table), dtype=object).to_frame("value")
        return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in table.items()})
    raise TypeError(
        "Each metric table must be a DataFrame, a Series or a dict (of numbers, or of dicts "
        f"of numbers), got {type(table).__name__}."
    )


def format_value(value) -> str:
    """A number to 4 decimals (2 above 10,000), an integer with separators, text as is."""
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if value.is_integer() and abs(value) < 1e15 and value != 0:
            return f"{int(value):,}"
        return f"{value:,.2f}" if abs(value) >= 1e4 else f"{value:.4f}"
    return str(value)


def table_html(table) -> str:
    """One metric table as an HTML ``<table>``, numbers to 4 decimals, text escaped."""
    frame = as_frame(table)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for label, values in zip(frame.index, frame.itertuples(index=False)):
        cells = "".join(f"<td>{html.escape(format_value(v))}</td>" for v in values)
        rows.append(f"<tr><td>{html.escape(str(label))}</td>{cells}</tr>")
    return (
        f'<table class="metrics"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def tables_html(tables: Mapping) -> str:
    """Tables side by side, wrapping; one with more than 5 columns takes the whole width."""
    parts = []
    for name, table in tables.items():
        wide = " wide" if as_frame(table).shape[1] > 5 else ""
        parts.append(
            f'<div class="table{wide}"><h3>{html.escape(str(name))}</h3>{table_html(table)}</div>'
        )
    return f'<div class="tables">{"".join(parts)}</div>' if parts else ""


# ---------------------------------------------------------------------------
# Cards, figures, sections, the page
# ---------------------------------------------------------------------------


def cards_html(cards) -> str:
    """The summary block: ``(label, value, tone)`` cards, tone ``"good"``, ``"bad"`` or ``""``."""
    parts = [
        f'<div class="card {tone}"><div class="value">{html.escape(value)}</div>'
        f'<div class="label">{html.escape(label)}</div></div>'
        for label, value, tone in cards
    ]
    return f'<div class="cards">{"".join(parts)}</div>'


def figure_html(name: str, data: bytes) -> str:
    spec = FIGURES.get(name)
    caption = html.escape(spec.caption if spec else name)
    wide = ' class="wide"' if spec is None or spec.wide else ""
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<figure id="{html.escape(name)}"{wide}><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{encoded}"><figcaption>{caption}</figcaption></figure>'
    )


def _section(key: str, heading: str, body: str) -> str:
    return f'<section id="{key}"><h2>{html.escape(heading)}</h2>{body}</section>'


def render_page(title, meta, cards, section_tables, figures, extra_sections) -> str:
    """The report document, figures embedded as base64 PNG.

    ``section_tables`` maps a key of :data:`SECTIONS` to its tables; figures go
    to the section :data:`FIGURES` names; ``extra_sections`` are ``{heading:
    tables}`` after them (the run's details, its configuration).
    """
    sections = []
    for key, heading in SECTIONS.items():
        images = [
            figure_html(n, d)
            for n, d in figures.items()
            if n in FIGURES and FIGURES[n].section == key
        ]
        tables = tables_html(section_tables.get(key, {}))
        if images or tables:
            grid = f'<div class="grid">{"".join(images)}</div>' if images else ""
            sections.append((key, heading, tables + grid))
    unplaced = [figure_html(n, d) for n, d in figures.items() if n not in FIGURES]
    if unplaced:
        sections.append(
            ("figures", "Other figures", f'<div class="grid">{"".join(unplaced)}</div>')
        )
    for number, (heading, tables) in enumerate(extra_sections.items()):
        if tables:
            sections.append((f"extra{number}", heading, tables_html(tables)))
    nav = "".join(f'<a href="#{key}">{html.escape(heading)}</a>' for key, heading, _ in sections)
    summary = _section("summary", "Summary", cards_html(cards)) if cards else ""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
            f"<header><h1>{html.escape(title)}</h1>",
            f'<div class="meta">{html.escape(meta)}</div><nav>{nav}</nav></header>',
            "<main>",
            summary,
            *(_section(key, heading, body) for key, heading, body in sections),
            "</main></body></html>",
        ]
    )
