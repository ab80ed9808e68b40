"""The Pareto view: score against model size, with the frontier the database marks."""

import pytest
from django.core.management import call_command

from evaluations.models import Metric
from tests import factories

pytestmark = pytest.mark.django_db


def dominated(row, rows, higher_is_better: bool) -> bool:
    """The definition, in plain Python (a reference for the SQL only): some row is no larger and no worse, and one of
    the two strictly."""
    better = (lambda a, b: a > b) if higher_is_better else (lambda a, b: a < b)
    for other in rows:
        no_worse = other["score"] == row["score"] or better(other["score"], row["score"])
        strictly = other["size"] < row["size"] or better(other["score"], row["score"])
        if other is not row and other["size"] <= row["size"] and no_worse and strictly:
            return True
    return False


def page(client, url, params=None):
    response = client.get(url, params or {})
    assert response.status_code == 200
    return response


def frontier_names(response) -> list[str]:
    return [row.training.name for row in response.context["frontier"]]


def reference_frontier(response, higher_is_better: bool) -> list[str]:
    rows = [{"name": r.training.name, "size": r.size, "score": r.score} for r in response.context["rows"] if r.size]
    return sorted((r["name"] for r in rows if not dominated(r, rows, higher_is_better)), key=lambda n: n)


@pytest.fixture
def boards(demo_data):
    call_command("create_demo_leaderboards", verbosity=0)


def test_the_frontier_of_a_mean_on_the_demo_data(client, boards, django_assert_max_num_queries):
    with django_assert_max_num_queries(13):
        response = page(client, "/leaderboards/zero-shot/pareto/")
    assert frontier_names(response) == [
        "pythia-v1.1-70m-deduped",
        "pythia-v1.1-160m-deduped",
        "pythia-v1.1-410m-deduped",
        "pythia-v1.1-1.4b-deduped",
        "pythia-v1.1-2.8b",
        "pythia-v1.1-6.9b-deduped",
        "pythia-v1.1-12b",
    ]  # 1b-deduped (24.73) is beaten by the smaller 410m-deduped (25.49)
    assert sorted(frontier_names(response)) == reference_frontier(response, True)
    html = response.content.decode()
    assert "16 ranked rows; 7 on the frontier." in html
    assert 'href="/checkpoints/' in html
    assert "vendor/plotly/plotly.min.js" in html
    chart = response.context["chart"]
    assert chart["layout"]["xaxis"]["type"] == "log"
    assert [len(trace["x"]) for trace in chart["data"]] == [16, 7]
    assert chart["data"][1]["line"]["shape"] == "hv"


@pytest.mark.parametrize(("colour_by", "groups"), [("model", 8), ("tag", 1), ("training", 16)])
def test_colour_by_draws_one_trace_per_group_and_the_legend_says_what_the_colours_mean(
    client, boards, colour_by, groups, django_assert_max_num_queries
):
    with django_assert_max_num_queries(14):
        response = page(client, "/leaderboards/zero-shot/pareto/", {"colour_by": colour_by})
    chart = response.context["chart"]
    *points, frontier = chart["data"]
    assert len(points) == groups
    assert sum(len(trace["x"]) for trace in points) == 16  # every row once, in its group's trace
    assert frontier["name"] == "Pareto frontier"
    assert len(frontier["x"]) == 7  # colouring changes no row of the frontier
    assert chart["layout"]["legend"]["title"]["text"].startswith("colour: ")
    if colour_by == "model":
        assert [trace["name"] for trace in points][:2] == ["pythia-v1.1-1.4b", "pythia-v1.1-12b"]  # by name
    if colour_by == "tag":
        assert points[0]["name"] == "pythia"


def test_a_lower_is_better_metric_on_the_demo_data(client, demo_data):
    ppl = Metric.objects.get(benchmark__slug="lambada_openai", key="ppl")
    response = page(client, "/pareto/", {"metric": ppl.pk, "method": "metric"})
    names = frontier_names(response)
    assert sorted(names) == reference_frontier(response, False)
    assert len(names) == 8
    assert all(name.endswith("-deduped") for name in names)


def test_a_search_changes_the_frontier(client, boards):
    response = page(client, "/leaderboards/zero-shot/pareto/", {"q": "deduped"})
    assert len(response.context["rows"]) == 8
    assert "pythia-v1.1-2.8b-deduped" in frontier_names(response)
    assert "pythia-v1.1-2.8b" not in frontier_names(response)


def test_ties_in_size_and_score_and_rows_without_a_size(client):
    acc = factories.metric()
    small = factories.model(name="small", parameter_count=100)
    big = factories.model(name="big", parameter_count=1000)
    factories.model(name="unknown")
    for training, model, value in [
        ("small-a", small, 0.5),
        ("small-b", small, 0.5),  # same size, same score: neither dominates
        ("small-c", small, 0.4),  # same size, worse: dominated
        ("big-a", big, 0.5),  # larger, no better: dominated
        ("big-b", big, 0.7),
        ("mystery", None, 0.9),
    ]:
        owner = factories.training(name=training, model=model) if model else factories.training(name=training)
        if model is None:
            owner.model.parameter_count = None
            owner.model.save()
        factories.score(metric=acc, value=value, checkpoint_obj=factories.checkpoint(training=owner))
    response = page(client, "/pareto/", {"metric": acc.pk})
    assert sorted(frontier_names(response)) == ["big-b", "small-a", "small-b"]
    assert sorted(frontier_names(response)) == reference_frontier(response, True)
    assert [row.training.name for row in response.context["unsized"]] == ["mystery"]
    assert "1 with no size known, left out of the chart" in response.content.decode()


def test_lower_is_better_keeps_the_smaller_value(client):
    loss = factories.metric(key="loss", higher_is_better=False)
    for name, size, value in [("a", 10, 3.0), ("b", 20, 3.5), ("c", 30, 2.0)]:
        owner = factories.training(name=name, model=factories.model(name=f"m-{name}", parameter_count=size))
        factories.score(metric=loss, value=value, checkpoint_obj=factories.checkpoint(training=owner))
    response = page(client, "/pareto/", {"metric": loss.pk})
    assert frontier_names(response) == ["a", "c"]


@pytest.mark.parametrize("params", [{"x": "tokens"}, {"metric": "nope"}, {"method": "magic"}, {"model": "x"}])
def test_bad_parameters_are_form_errors(client, params):
    acc = factories.metric()
    response = client.get("/pareto/", {"metric": acc.pk} | params)
    assert response.status_code == 200
    assert response.context["rows"] is None
    assert "errorlist" in response.content.decode()


def test_an_unknown_leaderboard_is_a_404(client):
    assert client.get("/leaderboards/nope/pareto/").status_code == 404
