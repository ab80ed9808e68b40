"""The leaderboard page: rows, ranking controls, filters, sorting, pagination, exports, and bad input."""

import csv
import io
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations.results import ScoreValue, record_result
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories

pytestmark = pytest.mark.django_db


def result(training: str, step: int, scores: dict, *, model: str = "m") -> None:
    checkpoint = factories.checkpoint(training=factories.training(name=training, model_name=model), step=step)
    by_benchmark: dict = {}
    for metric, value in scores.items():
        by_benchmark.setdefault(metric.benchmark, {})[metric] = ScoreValue(value, 0.01)
    for benchmark, values in by_benchmark.items():
        record_result(checkpoint, benchmark, values, source="api")


@pytest.fixture
def data():
    acc = factories.metric(key="acc", lower_bound=0, upper_bound=1, baseline=0.25)
    ppl = factories.metric(key="ppl", higher_is_better=False)
    for training, model, values in [
        ("alpha", "small", [(0.30, 20.0), (0.50, 12.0)]),
        ("beta", "small", [(0.40, 15.0), (0.45, 11.0)]),
        ("gamma", "big", [(0.70, 8.0), (0.60, 9.0)]),
    ]:
        for step, (a, p) in zip((100, 200), values, strict=True):
            result(training, step, {acc: a, ppl: p}, model=model)
    board = Leaderboard.objects.create(name="Main <b>board</b>", slug="main", best_only=True)
    LeaderboardMetric.objects.create(leaderboard=board, metric=acc)
    return {"acc": acc, "ppl": ppl, "board": board}


def rows_of(response) -> list[tuple]:
    table = response.context["table"]
    return [(row.record.training.name, row.record.step, row.record.rank) for row in table.paginated_rows]


def test_a_saved_leaderboard_shows_the_best_checkpoint_of_each_training(client, data):
    response = client.get("/leaderboards/main/")
    assert response.status_code == 200
    assert rows_of(response) == [("gamma", 100, 1), ("alpha", 200, 2), ("beta", 200, 3)]
    html = response.content.decode()
    assert "best of 2" in html
    assert "Main &lt;b&gt;board&lt;/b&gt;" in html
    assert "<b>board</b>" not in html
    assert "How this is ranked" in html


def test_the_query_string_overrides_the_saved_settings(client, data):
    response = client.get("/leaderboards/main/", {"best_only": "0"})
    assert [r[:2] for r in rows_of(response)][:2] == [("gamma", 100), ("gamma", 200)]
    response = client.get("/leaderboards/main/", {"metric": data["ppl"].pk})
    assert rows_of(response) == [("gamma", 100, 1), ("beta", 200, 2), ("alpha", 200, 3)]


def test_filters_narrow_the_candidates_and_ranks_restart(client, data):
    small = factories.model(name="small")
    response = client.get("/leaderboards/main/", {"model": small.pk})
    assert rows_of(response) == [("alpha", 200, 1), ("beta", 200, 2)]
    assert "ranks restart within the selection" in response.content.decode()
    response = client.get("/leaderboards/main/", {"q": "bet"})
    assert rows_of(response) == [("beta", 200, 1)]


def test_an_ad_hoc_normalised_mean_of_two_directions(client, data):
    response = client.get("/rank/", {"metric": [data["acc"].pk, data["ppl"].pk], "best_only": "1"})
    assert response.status_code == 200
    # Normalised: beta@200 = mean(26.7, 75.0) = 50.8 beats alpha@200 = mean(33.3, 66.7) = 50.0.
    assert [r[0] for r in rows_of(response)] == ["gamma", "beta", "alpha"]
    assert response.context["spec"].method == "normalised_mean"


def test_a_raw_mean_of_different_directions_is_refused_with_the_reason(client, data):
    response = client.get("/rank/", {"metric": [data["acc"].pk, data["ppl"].pk], "method": "mean"})
    assert response.status_code == 200
    assert "use the normalised mean" in response.content.decode()


def test_sorting_by_a_metric_column(client, data):
    response = client.get("/leaderboards/main/", {"best_only": "0", "sort": f"-metric_{data['acc'].pk}"})
    steps = [(r[0], r[1]) for r in rows_of(response)]
    assert steps[0] == ("alpha", 100)


@pytest.mark.parametrize(("key", "best"), [("acc", ("gamma", 100)), ("ppl", ("gamma", 100))])
def test_the_first_click_on_a_metric_header_shows_the_best_first(client, data, key, best):
    metric = data[key]
    params = {"best_only": "0", "metric": [data["acc"].pk, data["ppl"].pk]}
    response = client.get("/rank/", params)
    link = f"sort=metric_{metric.pk}"
    assert link in response.content.decode()  # the header's first-click link
    response = client.get("/rank/", {**params, "sort": f"metric_{metric.pk}"})
    first, second, *_ = rows_of(response)
    assert first[:2] == best
    worst = client.get("/rank/", {**params, "sort": f"-metric_{metric.pk}"})
    assert rows_of(worst)[0][:2] != best


@pytest.mark.parametrize("method", ["normalised_mean", "mean_rank", "win_rate"])
def test_the_first_click_on_the_score_header_shows_the_best_first(client, data, method):
    params = {"best_only": "0", "metric": [data["acc"].pk, data["ppl"].pk], "method": method}
    assert "sort=score" in client.get("/rank/", params).content.decode()  # the header's first-click link
    best_first = [row[2] for row in rows_of(client.get("/rank/", {**params, "sort": "score"}))]
    worst_first = [row[2] for row in rows_of(client.get("/rank/", {**params, "sort": "-score"}))]
    assert best_first[0] == 1
    assert best_first == sorted(best_first)
    assert worst_first == sorted(worst_first, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"metric": "abc"},
        {"metric": "99999"},
        {"method": "sorcery"},
        {"page": "zz"},
        {"page": "99999"},
        {"sort": "nope"},
        {"sort": "'; DROP TABLE x; --"},
        {"q": "a\x00b"},
        {"model": "-1"},
        {"evaluated_after": "yesterday"},
        {"weight_1": "nan"},
        {"best_only": "maybe"},
    ],
)
def test_bad_parameters_never_fail_the_page(client, data, params):
    response = client.get("/leaderboards/main/", params)
    assert response.status_code in (200, 404)


def test_the_csv_export_holds_every_filtered_row_with_the_settings(client, data):
    response = client.get("/leaderboards/main/", {"best_only": "0", "_export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    settings_url = re.fullmatch(r'<(.+)>; rel="describedby"; type="application/json"', response["Link"]).group(1)
    settings = client.get(settings_url).json()
    assert settings["ranking"]["best_checkpoint_only"] is False
    records = list(csv.reader(io.StringIO(response.content.decode())))
    assert records[0][:4] == ["Rank", "Model", "Training", "Step"]
    assert [r[2] for r in records[1:]] == ["gamma", "gamma", "alpha", "beta", "beta", "alpha"]


def test_csv_cells_that_look_like_formulas_are_neutralised(client, data):
    factories.training(name="=HYPERLINK(1)", model_name="small")
    result("=HYPERLINK(1)", 5, {data["acc"]: 0.9}, model="small")
    text = client.get("/leaderboards/main/", {"_export": "csv"}).content.decode()
    assert "'=HYPERLINK(1)" in text


def test_json_and_markdown_exports(client, data):
    payload = json.loads(client.get("/leaderboards/main/", {"_export": "json"}).content)
    assert payload["ranking"]["method"] == "metric"
    assert [r["Training"] for r in payload["rows"]] == ["gamma", "alpha", "beta"]
    markdown = client.get("/leaderboards/main/", {"_export": "md"}).content.decode()
    assert "| Rank | Model | Training |" in markdown


def test_htmx_requests_get_only_the_results_fragment(client, data):
    response = client.get("/leaderboards/main/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'id="results"' in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_private_leaderboards_are_hidden_from_anonymous_users(client, data, django_user_model):
    Leaderboard.objects.filter(slug="main").update(is_public=False)
    assert client.get("/leaderboards/main/").status_code == 404
    client.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    assert client.get("/leaderboards/main/").status_code == 200


def test_the_page_runs_a_bounded_number_of_queries(client, data):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/leaderboards/main/", {"best_only": "0"}).status_code == 200
        return len(queries)

    before = count()
    for index in range(10):
        result(f"extra-{index}", 100, {data["acc"]: 0.1 + index / 100}, model=f"extra-{index}")
    assert count() == before


def test_the_benchmark_category_filter_keeps_checkpoints_evaluated_in_that_category(client, data):
    data["acc"].benchmark.__class__.objects.filter(pk=data["acc"].benchmark_id).update(category="reasoning")
    reasoning = client.get("/leaderboards/main/", {"category": "reasoning"})
    assert [r[0] for r in rows_of(reasoning)] == ["gamma", "alpha", "beta"]
    unknown = client.get("/leaderboards/main/", {"category": "poetry"})
    assert unknown.status_code == 200
    assert "Select a valid choice" in unknown.content.decode()


@pytest.fixture
def broken(data):
    """A leaderboard written through the ORM whose ranking has no meaning: a raw mean over a metric without bounds."""
    board = Leaderboard.objects.create(name="Broken", slug="broken", method="weighted_mean", is_public=True)
    LeaderboardMetric.objects.create(leaderboard=board, metric=data["ppl"])
    data["board"].is_public = True
    data["board"].save()
    return board


def test_a_leaderboard_that_cannot_rank_shows_its_error_and_the_others_still_render(client, broken):
    home = client.get("/")
    assert home.status_code == 200
    html = home.content.decode()
    assert "has no known scale" in html  # the broken board's card says why
    assert "gamma @ 100" in html  # the other board's top rows are there
    for query in ({}, {"q": "alpha"}):
        page = client.get("/leaderboards/broken/", query)
        assert page.status_code == 200
        assert "has no known scale" in page.content.decode()
    for fmt in ("csv", "json", "md"):
        export = client.get("/leaderboards/broken/", {"_export": fmt})
        assert export.status_code == 400
        assert "has no known scale" in export.content.decode()
    api = client.get("/api/v1/leaderboards/broken/rows/")
    assert api.status_code == 400
    assert "has no known scale" in json.dumps(api.json())
    assert client.get("/api/v1/leaderboards/broken/").status_code == 200


@pytest.mark.parametrize("url", ["/leaderboards/main/", "/leaderboards/main/pareto/", "/rank/across/"])
def test_the_filters_beyond_the_search_are_folded_unless_one_is_set(client, data, url):
    folded = client.get(url).content.decode()
    assert '<details class="more-filters">' in folded
    assert 'id="id_q"' in folded  # the name search stays in view
    assert "js/controls.js" in folded  # the pickers' filter boxes

    small = factories.model(name="small")
    unfolded = client.get(url, {"model": small.pk}).content.decode()
    assert '<details class="more-filters" open>' in unfolded
    assert '<span class="muted">(Model)</span>' in unfolded
