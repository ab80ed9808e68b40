"""Exports of a ranking as code and people read them: a plain CSV, JSON numbers, rounded Markdown, stderr columns."""

import csv
import io
import json
import re

import pytest

from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def board():
    """arc_easy acc (↑, stderr known) and wikitext word_perplexity (↓, one stderr unknown), averaged."""
    acc = factories.metric(benchmark=factories.benchmark(slug="arc_easy"), key="acc", lower_bound=0, upper_bound=1)
    wikitext = factories.benchmark(slug="wikitext")
    ppl = factories.metric(benchmark=wikitext, key="word_perplexity", higher_is_better=False)
    for training, a, p, p_err in [("alpha", 0.6012345678, 3594272.25, 1.5), ("beta", 0.5987654321, 21.75, None)]:
        checkpoint = factories.checkpoint(training_name=training, step=1000)
        factories.score(metric=acc, value=a, stderr=0.0123456789, checkpoint_obj=checkpoint)
        factories.score(metric=ppl, value=p, stderr=p_err, checkpoint_obj=checkpoint)
    leaderboard = Leaderboard.objects.create(name="Main", slug="main", method="normalised_mean", is_public=True)
    LeaderboardMetric.objects.create(leaderboard=leaderboard, metric=acc)
    LeaderboardMetric.objects.create(leaderboard=leaderboard, metric=ppl)
    return leaderboard


HEADER = [
    "Rank",
    "Model",
    "Training",
    "Step",
    "Normalised mean (0–100)",
    "Coverage",
    "arc_easy acc",
    "arc_easy acc stderr",
    "wikitext word_perplexity",
    "wikitext word_perplexity stderr",
]


def export(client, fmt: str, **params):
    response = client.get("/leaderboards/main/", {"_export": fmt, **params})
    assert response.status_code == 200
    return response


def test_the_csv_is_plain_its_first_line_the_header_with_plain_names_and_stderr_columns(client, board):
    response = export(client, "csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == HEADER
    by_training = {row[2]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    alpha, beta = by_training["alpha"], by_training["beta"]
    assert float(alpha["arc_easy acc"]) == 0.6012345678  # full precision
    assert float(alpha["arc_easy acc stderr"]) == 0.0123456789
    assert beta["wikitext word_perplexity stderr"] == ""  # unknown, not 0
    assert "↑" not in response.content.decode()
    assert "↓" not in response.content.decode()


def test_the_csv_links_to_its_settings_which_carry_the_directions(client, board):
    response = export(client, "csv", q="a")
    url = re.fullmatch(r'<(.+)>; rel="describedby"; type="application/json"', response["Link"]).group(1)
    assert "_export=settings" in url
    assert "q=a" in url
    settings = client.get(url).json()
    columns = {m["column"]: m["direction"] for m in settings["ranking"]["metrics"]}
    assert columns == {"arc_easy acc": "higher", "wikitext word_perplexity": "lower"}
    assert settings["ranking"]["score"] == {"column": "Normalised mean (0–100)", "higher_is_better": True}
    assert settings["filters"] == {"q": "a"}


def test_the_json_export_carries_numbers_as_numbers_and_missing_values_as_null(client, board):
    payload = json.loads(export(client, "json").content)
    beta, alpha = payload["rows"]  # alpha's perplexity ranks it last
    assert list(alpha) == HEADER
    assert alpha["arc_easy acc"] == 0.6012345678
    assert isinstance(alpha["Normalised mean (0–100)"], float)
    assert alpha["Rank"] == 2
    assert alpha["Step"] == 1000
    assert alpha["wikitext word_perplexity stderr"] == 1.5
    assert beta["wikitext word_perplexity stderr"] is None
    assert payload["ranking"]["metrics"][1]["stderr_column"] == "wikitext word_perplexity stderr"


def test_the_markdown_export_rounds_as_the_page_does(client, board):
    text = export(client, "md").content.decode()
    header = next(line for line in text.splitlines() if line.startswith("| Rank"))
    assert header == "| " + " | ".join(HEADER) + " |"
    alpha = next(line for line in text.splitlines() if "| alpha |" in line)
    # acc takes 3 decimals (its own), enough to tell 0.601 from 0.599; thousands separators for the perplexity.
    assert "| 0.601 | 0.012 | 3,594,272.250 | 1.500 |" in alpha
    assert "0.6012345678" not in text
    page = client.get("/leaderboards/main/").content.decode()
    assert "3,594,272.250" in page


def test_the_page_links_to_each_export_and_the_settings(client, board):
    page = client.get("/leaderboards/main/").content.decode()
    for fmt in ("csv", "json", "md", "settings"):
        assert f"_export={fmt}" in page
