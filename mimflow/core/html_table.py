"""Data frames as HTML tables, for the pages the workflow writes (the scorecard, the summary tables)."""
from __future__ import annotations

import html
from typing import Any, Collection

import numpy as np
import pandas as pd

TABLE_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 110em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; } td.text { text-align: left; }
"""


def html_value(value: Any) -> str:
    """A cell: floats to 4 significant digits (NaN blank), anything else as escaped text."""
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def html_table(frame: pd.DataFrame, columns: list[tuple[str, str]], row_class: str | None = None,
               text_columns: Collection[str] | None = None) -> list[str]:
    """The lines of a <table> of `columns` ((column, header) pairs); with `row_class`, each row's class is
    that column's value (spaces as dashes). Text cells are left-aligned (those of `text_columns` where given,
    else every string); the "verdict" column is marked."""
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(label)}</th>" for _, label in columns) + "</tr>"]
    for _, row in frame.iterrows():
        css = f' class="{row[row_class].replace(" ", "-")}"' if row_class else ""
        cells = []
        for name, _ in columns:
            text = isinstance(row[name], str) if text_columns is None else name in text_columns
            kinds = [k for k, on in (("text", text), ("verdict", name == "verdict")) if on]
            attribute = f' class="{" ".join(kinds)}"' if kinds else ""
            cells.append(f"<td{attribute}>{html_value(row[name])}</td>")
        out.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return out


def html_page(title: str, body: list[str], style: str = TABLE_STYLE) -> str:
    """A standalone HTML page: `title` as its title, then the `body` lines."""
    head = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{html.escape(title)}</title>",
            f"<style>{style}</style></head><body>"]
    return "\n".join(head + body + ["</body></html>"]) + "\n"
