"""Exports of a ranked view: CSV, JSON and Markdown, each carrying the ranking settings with the rows."""

import csv
import io
import json

from django.http import HttpResponse
from django.utils import timezone
from django.utils.text import slugify

from .methods import RankingSpec

FORMATS = {"csv": "text/csv", "json": "application/json", "md": "text/markdown"}
# Spreadsheets run a cell starting with one of these as a formula; a leading apostrophe makes it plain text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# In Markdown: the backslash first (it escapes the others), pipes that would end a cell, brackets that would make a
# link, and HTML as entities (Markdown renderers pass raw HTML through).
MARKDOWN_ESCAPES = {"\\": "\\\\", "|": "\\|", "[": "\\[", "]": "\\]", "&": "&amp;", "<": "&lt;", ">": "&gt;"}


def describe(spec: RankingSpec) -> dict:
    return {
        "method": spec.method,
        "metrics": [
            {
                "benchmark": w.metric.benchmark.slug,
                "num_fewshot": w.metric.benchmark.num_fewshot,
                "version": w.metric.benchmark.version,
                "metric": w.metric.key,
                "direction": w.metric.direction,
                "weight": w.weight,
            }
            for w in spec.metrics
        ],
        "best_checkpoint_only": spec.best_only,
        "missing_values": spec.missing,
        "ties": spec.ties,
    }


def safe_cell(value):
    """The value as a spreadsheet shows it, never runs it: text that would start a formula gets a leading apostrophe
    (OWASP's advice for CSV injection); numbers are not text, and stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _comment_json(value) -> str:
    """JSON of the settings for the CSV's comment line, which spreadsheets split into cells at every comma or
    semicolon: inside strings these are written as JSON escapes, so each cell starts with JSON's own ', ' and never
    with text from a name or a filter (a filter of 'x,=1+1' would otherwise put '=1+1' in a cell of its own)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_comment_json(str(k))}: {_comment_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_comment_json(v) for v in value) + "]"
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    text = json.dumps(str(value), ensure_ascii=False)
    return text.replace(",", "\\u002c").replace(";", "\\u003b")


def export_response(
    fmt: str, *, title: str, spec: RankingSpec, filters: dict, header: list, rows: list
) -> HttpResponse:
    """`rows` are lists of plain values in the order of `header`."""
    settings = {"leaderboard": title, "ranking": describe(spec), "filters": filters, "exported_at": timezone.now()}
    if fmt == "json":
        records = [dict(zip(header, row, strict=True)) for row in rows]
        body = json.dumps(settings | {"rows": records}, indent=2, default=str, ensure_ascii=False)
    elif fmt == "md":
        body = _markdown(settings, header, rows)
    else:
        body = _csv(settings, header, rows)
    response = HttpResponse(body, content_type=f"{FORMATS[fmt]}; charset=utf-8")
    name = slugify(title) or "ranking"
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _csv(settings: dict, header: list, rows: list) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    # Settings first as comment lines (pandas: read_csv(..., comment="#")).
    out.write(f"# {_comment_json(settings)}\n")
    # Headers carry benchmark and metric names: neutralised like the cells.
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue()


def _markdown(settings: dict, header: list, rows: list) -> str:
    def cell(value) -> str:
        """The value as plain text in a table cell: its HTML shown, not run; no line break, pipe or link."""
        text = "" if value is None else str(value)
        for char, replacement in MARKDOWN_ESCAPES.items():
            text = text.replace(char, replacement)
        return " ".join(text.splitlines())

    ranking = settings["ranking"]
    metrics = ", ".join(f"{m['benchmark']} {m['metric']} (×{m['weight']:g})" for m in ranking["metrics"])
    lines = [
        f"**{cell(settings['leaderboard'])}** — {ranking['method']} of {cell(metrics)}; "
        f"best checkpoint only: {'yes' if ranking['best_checkpoint_only'] else 'no'}; "
        f"missing values: {ranking['missing_values']}; ties: {ranking['ties']}.",
        "",
        "| " + " | ".join(cell(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
