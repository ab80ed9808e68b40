"""Leaderboards and ranked rows over the API: the same rows as the HTML pages for the same parameters."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from evaluations.models import Metric, ModelFamily
from evaluations.results import ScoreValue, record_result
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def board(*metrics, **fields) -> Leaderboard:
    fields.setdefault("slug", "board")
    leaderboard = Leaderboard.objects.create(name=fields["slug"].title(), **fields)
    for order, metric in enumerate(metrics):
        LeaderboardMetric.objects.create(leaderboard=leaderboard, metric=metric, order=order)
    return leaderboard


def result(training: str, step: int, values: dict, *, model: str = "m") -> None:
    checkpoint = factories.checkpoint(training=factories.training(name=training, model_name=model), step=step)
    by_benchmark: dict = {}
    for metric, value in values.items():
        by_benchmark.setdefault(metric.benchmark, {})[metric] = ScoreValue(value, 0.01)
    for benchmark, scores in by_benchmark.items():
        record_result(checkpoint, benchmark, scores, source="api")


@pytest.fixture
def data():
    """Two metrics on two benchmarks, trainings of two models, ties and a missing value."""
    acc = factories.metric(benchmark=factories.benchmark(slug="arc"), key="acc", lower_bound=0, upper_bound=1)
    ppl = factories.metric(benchmark=factories.benchmark(slug="lambada"), key="ppl", higher_is_better=False)
    f1 = factories.metric(benchmark=factories.benchmark(slug="squad"), key="f1", lower_bound=0, upper_bound=1)
    values = {
        ("a", 0): {acc: 0.5, ppl: 20.0, f1: 0.4},
        ("a", 10): {acc: 0.6, ppl: 15.0, f1: 0.5},
        ("b", 0): {acc: 0.6, ppl: 12.0, f1: 0.6},
        ("b", 10): {acc: 0.7, f1: 0.6},
        ("c", 5): {acc: 0.4, ppl: 30.0, f1: 0.3},
    }
    for (training, step), metric_values in values.items():
        result(training, step, metric_values, model="big" if training == "c" else "small")
    return acc, ppl, f1


def html_rows(path: str, params: dict) -> list[tuple]:
    table = Client().get(path, params).context["table"]
    return [(row.record.pk, row.record.rank, row.record.score) for row in table.page.object_list]


def api_rows(client, path: str, params: dict) -> list[tuple]:
    response = client.get(path, params)
    assert response.status_code == 200, response.json()
    return [(row["checkpoint"]["id"], row["rank"], row["score"]) for row in response.json()["results"]]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"best_only": "0"},
        {"metric": "acc"},
        {"metric": ["acc", "ppl"], "method": "normalised_mean"},
        {"metric": ["acc", "f1"], "method": "weighted_mean", "weight_acc": "3"},
        {"metric": ["acc", "ppl", "f1"], "method": "mean_rank", "missing": "available", "best_only": "0"},
        {"metric": ["acc", "ppl"], "method": "win_rate", "missing": "worst", "ties": "dense"},
        {"q": "b"},
        {"model": "small", "best_only": "0"},
        {"evaluated_after": "2000-01-01"},
    ],
)
def test_leaderboard_rows_equal_the_pages_rows(anonymous, data, params):
    acc, ppl, f1 = data
    by_key = {"acc": acc, "ppl": ppl, "f1": f1}
    params = _resolved(params, by_key)
    leaderboard = board(acc, ppl, method="normalised_mean", missing="available")
    page = html_rows(reverse("rankings:leaderboard", args=[leaderboard.slug]), params)
    api = api_rows(anonymous, f"/api/v1/leaderboards/{leaderboard.slug}/rows/", params)
    assert api == page
    assert api  # each case ranks something


def _resolved(params: dict, by_key: dict) -> dict:
    """Metric keys in the test parameters → ids, model names → ids, as the page's query string has them."""
    resolved = {}
    for name, value in params.items():
        if name == "metric":
            values = value if isinstance(value, list) else [value]
            resolved["metric"] = [by_key[key].pk for key in values]
        elif name.startswith("weight_"):
            resolved[f"weight_{by_key[name.removeprefix('weight_')].pk}"] = value
        elif name == "model":
            resolved["model"] = ModelFamily.objects.get(name=value).pk
        else:
            resolved[name] = value
    return resolved


def test_ad_hoc_rankings_equal_the_rank_pages_rows(anonymous, data):
    acc, ppl, _ = data
    params = {"metric": [acc.pk, ppl.pk], "method": "normalised_mean", "best_only": "0"}
    assert api_rows(anonymous, "/api/v1/rankings/", params) == html_rows(reverse("rankings:ranking"), params)


def test_sorted_rows_follow_the_pages_sort(anonymous, data):
    acc, ppl, _ = data
    leaderboard = board(acc, best_only=False)
    # The API orders literally (DRF's convention: "score" ascending); the page's first click on a score header shows
    # the best first, so its sort=score is the API's -score when higher is better.
    for sort, ordering in (("-step", "-step"), ("training", "training"), ("score", "-score"), ("-score", "score")):
        page = html_rows(reverse("rankings:leaderboard", args=[leaderboard.slug]), {"sort": sort})
        api = api_rows(anonymous, f"/api/v1/leaderboards/{leaderboard.slug}/rows/", {"ordering": ordering})
        assert api == page, ordering
    page = html_rows(reverse("rankings:leaderboard", args=[leaderboard.slug]), {"sort": "-rank"})
    assert api_rows(anonymous, f"/api/v1/leaderboards/{leaderboard.slug}/rows/", {"ordering": "-rank"}) == page


def test_rows_carry_the_ranking_settings_and_each_metrics_values(anonymous, data):
    acc, ppl, _ = data
    leaderboard = board(acc, ppl, method="normalised_mean", missing="require_all", best_only=True)
    body = anonymous.get(f"/api/v1/leaderboards/{leaderboard.slug}/rows/").json()
    settings = body["ranking"]
    assert (settings["method"], settings["best_only"], settings["missing"], settings["ties"]) == (
        "normalised_mean",
        True,
        "require_all",
        "standard",
    )
    assert [(m["id"], m["key"], m["weight"]) for m in settings["metrics"]] == [
        (acc.pk, "acc", 1.0),
        (ppl.pk, "ppl", 1.0),
    ]
    first = body["results"][0]
    assert (first["rank"], first["training"]["name"], first["checkpoint"]["step"], first["model"]["name"]) == (
        1,
        "b",
        0,
        "small",
    )
    assert first["coverage"] == 2
    assert first["checkpoints_ranked"] == 1  # b's step 10 lacks ppl, which this ranking requires
    # Normalised: 0 at the worst observed value (0.4), 100 at the metric's upper bound (1).
    expected = {"key": "acc", "value": 0.6, "stderr": 0.01, "part": pytest.approx(100 / 3)}
    assert first["values"][str(acc.pk)] == expected
    assert first["values"][str(ppl.pk)]["value"] == 12.0


def test_rows_are_paginated_in_rank_order(anonymous, data):
    acc, _, _ = data
    leaderboard = board(acc, best_only=False)
    first = anonymous.get(f"/api/v1/leaderboards/{leaderboard.slug}/rows/", {"page_size": 2}).json()
    second = anonymous.get(first["next"]).json()
    assert first["count"] == 5
    assert [row["rank"] for row in first["results"] + second["results"]] == [1, 2, 2, 4]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"metric": "999999"}, "metric"),
        ({"method": "median"}, "method"),
        ({"best_only": "maybe"}, "best_only"),
        ({"ordering": "name"}, "ordering"),
        ({"model": "abc"}, "model"),
        ({"evaluated_after": "yesterday"}, "evaluated_after"),
        ({"metric": "ACC", "weight_ACC": "-1"}, "weight_ACC"),
    ],
)
def test_invalid_ranking_parameters_get_a_400(anonymous, data, params, field):
    acc, _, _ = data
    leaderboard = board(acc)
    params = {
        (f"weight_{acc.pk}" if name == "weight_ACC" else name): (acc.pk if value == "ACC" else value)
        for name, value in params.items()
    }
    response = anonymous.get(f"/api/v1/leaderboards/{leaderboard.slug}/rows/", params)
    assert response.status_code == 400
    field = f"weight_{acc.pk}" if field == "weight_ACC" else field
    assert field in [error["field"] for error in response.json()["errors"]]


def test_a_ranking_that_has_no_meaning_gets_a_400_with_the_reason(anonymous, data):
    acc, ppl, _ = data
    response = anonymous.get("/api/v1/rankings/", {"metric": [acc.pk, ppl.pk], "method": "mean"})
    assert response.status_code == 400
    assert "different directions" in response.json()["detail"]
    assert anonymous.get("/api/v1/rankings/").status_code == 400


def test_a_leaderboard_with_a_metric_of_unknown_direction_gets_a_400(anonymous, data):
    acc, _, _ = data
    Metric.objects.filter(pk=acc.pk).update(direction=Metric.Direction.UNKNOWN)
    leaderboard = board(Metric.objects.get(pk=acc.pk))
    response = anonymous.get(f"/api/v1/leaderboards/{leaderboard.slug}/rows/")
    assert response.status_code == 400
    assert "unknown" in response.json()["detail"]


def test_private_leaderboards_are_hidden_unless_the_user_may_see_them(anonymous, data):
    acc, _, _ = data
    board(acc, slug="public")
    board(acc, slug="secret", is_public=False)
    assert [b["slug"] for b in anonymous.get("/api/v1/leaderboards/").json()["results"]] == ["public"]
    assert anonymous.get("/api/v1/leaderboards/secret/").status_code == 404
    assert anonymous.get("/api/v1/leaderboards/secret/rows/").status_code == 404
    insider = factories.user()
    insider.user_permissions.add(Permission.objects.get(codename="view_private_leaderboard"))
    client = client_for(insider)
    assert [b["slug"] for b in client.get("/api/v1/leaderboards/").json()["results"]] == ["public", "secret"]
    assert client.get("/api/v1/leaderboards/secret/rows/").status_code == 200


def test_a_leaderboard_describes_its_settings(anonymous, data):
    acc, ppl, _ = data
    leaderboard = board(acc, ppl, method="mean_rank", description="Two metrics")
    body = anonymous.get(f"/api/v1/leaderboards/{leaderboard.slug}/").json()
    assert (body["name"], body["method"], body["description"]) == ("Board", "mean_rank", "Two metrics")
    assert [m["benchmark"]["slug"] for m in body["metrics"]] == ["arc", "lambada"]


def test_rankings_need_a_sign_in_when_anonymous_reads_are_off(anonymous, reader, data, settings):
    acc, _, _ = data
    settings.API_ANONYMOUS_READ = False
    assert anonymous.get("/api/v1/rankings/", {"metric": acc.pk}).status_code == 401
    assert reader.get("/api/v1/rankings/", {"metric": acc.pk}).status_code == 200
