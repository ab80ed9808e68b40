"""Exports of a ranked view: CSV, JSON and Markdown of its rows, and the ranking settings that produced them.

The CSV is plain (its first line is the header row), so `csv`, `pandas.read_csv` and spreadsheets read it without
options; its settings are the `settings` export, which the CSV names in a `Link` header (rel="describedby"). The JSON
carries the settings beside its rows, and Markdown a sentence above its table. Columns have plain names
("arc_easy acc", "arc_easy acc stderr"); directions are in the settings.
"""

import csv
import io
import json
from collections.abc import Callable

from django.http import HttpResponse
from django.utils import timezone
from django.utils.text import slugify

from evaluations.formatting import format_number
from evaluations.labels import column_names

from .methods import Method, RankingSpec
from .tables import page_decimals, score_label

FORMATS = {"csv": "text/csv", "json": "application/json", "md": "text/markdown", "settings": "application/json"}
# Spreadsheets run a cell starting with one of these as a formula; a leading apostrophe makes it plain text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# In Markdown: the backslash first (it escapes the others), pipes that would end a cell, brackets that would make a
# link, and HTML as entities (Markdown renderers pass raw HTML through).
MARKDOWN_ESCAPES = {"\\": "\\\\", "|": "\\|", "[": "\\[", "]": "\\]", "&": "&amp;", "<": "&lt;", ">": "&gt;"}


class Column:
    """One column of an export: its plain name, how a ranked row gives its value, and (for numbers shown rounded
    in Markdown) the key of `tables.page_decimals` whose digits it takes."""

    def __init__(self, name: str, value: Callable, digits: str | None = None):
        self.name, self.value, self.digits = name, value, digits


def columns(spec: RankingSpec) -> list[Column]:
    """The columns of an export of `spec`, in the order of the page's table, each metric's stderr beside it."""
    found = [
        Column("Rank", lambda r: r.rank),
        Column("Model", lambda r: r.training.model.name),
        Column("Training", lambda r: r.training.name),
        Column("Step", lambda r: r.step),
    ]
    if spec.method != Method.METRIC:  # a single metric's score is its metric's column
        found.append(Column(score_label(spec, arrow=False), lambda r: r.score, "score"))
        found.append(Column("Coverage", lambda r: f"{r.coverage}/{len(spec.metrics)}"))
    metrics = [w.metric for w in spec.metrics]
    for metric, name in zip(metrics, column_names(metrics), strict=True):
        key = f"value_{metric.pk}"
        found.append(Column(name, lambda r, key=key: getattr(r, key, None), key))
        found.append(Column(f"{name} stderr", lambda r, pk=metric.pk: getattr(r, f"stderr_{pk}", None), key))
    return found


def describe(spec: RankingSpec) -> dict:
    metrics = [w.metric for w in spec.metrics]
    return {
        "method": spec.method,
        "score": None
        if spec.method == Method.METRIC
        else {"column": score_label(spec, arrow=False), "higher_is_better": spec.higher_is_better},
        "metrics": [
            {
                "column": name,
                "stderr_column": f"{name} stderr",
                "benchmark": w.metric.benchmark.slug,
                "num_fewshot": w.metric.benchmark.num_fewshot,
                "version": w.metric.benchmark.version,
                "metric": w.metric.key,
                "direction": w.metric.direction,
                "weight": w.weight,
            }
            for w, name in zip(spec.metrics, column_names(metrics), strict=True)
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


def export_response(
    fmt: str, *, title: str, spec: RankingSpec, filters: dict, records: list, settings_url: str
) -> HttpResponse:
    """`records` are the ranked rows in the order of the page; `settings_url` is this export's `settings` export."""
    settings = {"leaderboard": title, "ranking": describe(spec), "filters": filters, "exported_at": timezone.now()}
    cols = columns(spec)
    if fmt == "settings":
        body = json.dumps(settings, indent=2, default=str, ensure_ascii=False)
    elif fmt == "json":
        # Numbers as JSON numbers at full precision, null where a value is missing.
        rows = [{c.name: c.value(r) for c in cols} for r in records]
        body = json.dumps(settings | {"rows": rows}, indent=2, default=str, ensure_ascii=False)
    elif fmt == "md":
        body = _markdown(settings, cols, records, page_decimals(records, spec))
    else:
        body = _csv(cols, records)
    response = HttpResponse(body, content_type=f"{FORMATS[fmt]}; charset=utf-8")
    name = slugify(title) or "ranking"
    filename = f"{name}.settings.json" if fmt == "settings" else f"{name}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if fmt == "csv":
        # The settings stay out of the file (a comment line broke pandas and spreadsheets): the CSV names them.
        response["Link"] = f'<{settings_url}>; rel="describedby"; type="application/json"'
    return response


def _csv(cols: list[Column], records: list) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    # Headers carry benchmark and metric names: neutralised like the cells.
    writer.writerow([safe_cell(c.name) for c in cols])
    for record in records:
        writer.writerow([safe_cell(c.value(record)) for c in cols])
    return out.getvalue()


def _markdown(settings: dict, cols: list[Column], records: list, digits: dict[str, int]) -> str:
    def cell(value) -> str:
        """The value as plain text in a table cell: its HTML shown, not run; no line break, pipe or link."""
        text = "" if value is None else str(value)
        for char, replacement in MARKDOWN_ESCAPES.items():
            text = text.replace(char, replacement)
        return " ".join(text.splitlines())

    def shown(column: Column, record) -> str:
        """Numbers rounded as the page rounds them (evaluations.formatting)."""
        value = column.value(record)
        if column.digits is None or value is None:
            return cell(value)
        return format_number(value, digits[column.digits])

    ranking = settings["ranking"]
    metrics = ", ".join(f"{m['benchmark']} {m['metric']} (×{m['weight']:g})" for m in ranking["metrics"])
    lines = [
        f"**{cell(settings['leaderboard'])}** — {ranking['method']} of {cell(metrics)}; "
        f"best checkpoint only: {'yes' if ranking['best_checkpoint_only'] else 'no'}; "
        f"missing values: {ranking['missing_values']}; ties: {ranking['ties']}.",
        "",
        "| " + " | ".join(cell(c.name) for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    lines += ["| " + " | ".join(shown(c, r) for c in cols) + " |" for r in records]
    return "\n".join(lines) + "\n"
