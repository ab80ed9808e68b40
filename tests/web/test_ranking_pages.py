"""Training, checkpoint, compare, across-metrics and progress pages."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from evaluations.models import CurrentScore
from evaluations.results import ScoreValue, record_result
from rankings.models import DeploymentSelection, Leaderboard, LeaderboardMetric
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs():
    acc = factories.metric(key="acc", lower_bound=0, upper_bound=1)
    ppl = factories.metric(key="ppl", higher_is_better=False)
    start = timezone.now() - dt.timedelta(days=5)
    checkpoints = {}
    for day, (training, step, a, p) in enumerate(
        [("run-a", 100, 0.3, 20.0), ("run-a", 200, 0.5, 12.0), ("run-b", 100, 0.6, 10.0), ("run-b", 200, 0.55, 11.0)]
    ):
        checkpoint = factories.checkpoint(training=factories.training(name=training, model_name="m"), step=step)
        finished = start + dt.timedelta(days=day)
        record_result(checkpoint, acc.benchmark, {acc: ScoreValue(a, 0.02)}, source="api", finished_at=finished)
        record_result(checkpoint, ppl.benchmark, {ppl: ScoreValue(p)}, source="api", finished_at=finished)
        checkpoints[(training, step)] = checkpoint
    board = Leaderboard.objects.create(name="Board", slug="board", best_only=True)
    LeaderboardMetric.objects.create(leaderboard=board, metric=acc)
    return {"acc": acc, "ppl": ppl, "board": board, "checkpoints": checkpoints}


def test_the_training_page_charts_the_chosen_metrics_and_marks_the_best_checkpoint(client, runs):
    training = runs["checkpoints"][("run-a", 100)].training
    response = client.get(training.get_absolute_url(), {"metric": [runs["acc"].pk, runs["ppl"].pk]})
    assert response.status_code == 200
    chart = response.context["chart"]
    assert [trace["name"] for trace in chart["data"] if trace.get("mode") == "lines+markers"] == ["run-a", "run-a"]
    assert chart["layout"]["yaxis2"]["autorange"] == "reversed"
    assert response.context["suggestion"].step == 200
    html = response.content.decode()
    assert "vendor/plotly/plotly.min.js" in html


def test_overlaying_the_other_trainings_of_the_model(client, runs):
    training = runs["checkpoints"][("run-a", 100)].training
    response = client.get(training.get_absolute_url(), {"overlay": "1", "metric": runs["acc"].pk})
    names = {trace["name"] for trace in response.context["chart"]["data"] if trace.get("name")}
    assert names == {"run-a", "run-b"}


def test_selecting_a_deployment_needs_the_permission(client, runs, django_user_model):
    checkpoint = runs["checkpoints"][("run-a", 200)]
    url = f"/trainings/deploy/{checkpoint.pk}/"
    assert client.post(url).status_code == 302  # to the login page
    user = django_user_model.objects.create_user("member")
    client.force_login(user)
    assert client.post(url).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_deploymentselection"))
    response = client.post(url, {"reason": "best on acc"})
    assert response.status_code == 302
    selection = DeploymentSelection.objects.get()
    assert (selection.checkpoint, selection.reason, selection.selected_by) == (checkpoint, "best on acc", user)


def test_the_checkpoint_page_shows_its_rank_on_each_leaderboard(client, runs):
    best_of_b = runs["checkpoints"][("run-b", 100)]
    response = client.get(best_of_b.get_absolute_url())
    (board, row, total) = response.context["placements"][0]
    assert (board.slug, row.rank, total) == ("board", 1, 2)
    not_best = runs["checkpoints"][("run-b", 200)]
    assert client.get(not_best.get_absolute_url()).context["placements"][0][1] is None


def test_compare_shows_shared_metrics_with_the_best_marked_and_deltas(client, runs):
    first, second = runs["checkpoints"][("run-a", 100)], runs["checkpoints"][("run-b", 100)]
    response = client.get("/compare/", {"checkpoint": [first.pk, second.pk]})
    assert response.status_code == 200
    by_metric = {metric.key: cells for metric, cells in response.context["table"]}
    acc_cells = [(cell.value, best, round(delta, 6), verdict) for cell, best, (delta, verdict) in by_metric["acc"]]
    assert acc_cells == [(0.3, False, 0.0, "same"), (0.6, True, 0.3, "better")]
    ppl_best = [best for _, best, _ in by_metric["ppl"]]
    assert ppl_best == [False, True]


def test_compare_takes_the_best_checkpoint_of_chosen_trainings(client, runs):
    trainings = [runs["checkpoints"][(name, 100)].training_id for name in ("run-a", "run-b")]
    response = client.get("/compare/", {"training": trainings, "leaderboard": "board"})
    assert [(c.training.name, c.step) for c in response.context["checkpoints"]] == [("run-b", 100), ("run-a", 200)]


@pytest.mark.parametrize("params", [{"checkpoint": "x"}, {"checkpoint": ["1"] * 20}, {"training": "-5"}, {}])
def test_compare_with_bad_or_too_few_choices_explains(client, runs, params):
    response = client.get("/compare/", params)
    assert response.status_code == 200
    assert "table" not in response.context or response.context["table"] is not None


def test_rankings_across_metrics_show_ranks_and_correlations(client, runs):
    response = client.get("/rank/across/", {"metric": [runs["acc"].pk, runs["ppl"].pk], "best_only": "0"})
    assert response.status_code == 200
    (correlation,) = response.context["correlations"]
    assert correlation.rows == 4
    assert correlation.spearman_rho == pytest.approx(1.0)  # acc and ppl order the four checkpoints alike
    assert correlation.kendall_tau == pytest.approx(1.0)
    ranks = {(row.training.name, row.step): parts for row, parts in response.context["rows"]}
    assert ranks[("run-b", 100)] == [1.0, 1.0]


def test_across_metrics_of_best_checkpoints_ranks_them_among_themselves(client, runs, django_assert_max_num_queries):
    # Among all four checkpoints run-a's best (step 200) is third on both metrics; among the two rows shown, second.
    with django_assert_max_num_queries(10):  # the form's choices, the ranking, its count, two correlation sums
        response = client.get("/rank/across/", {"metric": [runs["acc"].pk, runs["ppl"].pk], "best_only": "1"})
    ranks = [(row.training.name, row.step, parts) for row, parts in response.context["rows"]]
    assert ranks == [("run-b", 100, [1.0, 1.0]), ("run-a", 200, [2.0, 2.0])]
    text = " ".join(response.content.decode().split())
    assert "2 checkpoints, the best of each training, ranked among themselves" in text
    (correlation,) = response.context["correlations"]
    assert correlation.rows == 2


def test_progress_lists_the_records_over_time(client, runs):
    response = client.get("/leaderboards/board/progress/")
    assert response.status_code == 200
    records = [(r.training.name, r.step, r.best_so_far) for r in response.context["records"]]
    assert records == [("run-a", 100, 0.3), ("run-a", 200, 0.5), ("run-b", 100, 0.6)]


def test_progress_of_results_from_one_import_is_drawn_in_order_of_arrival_and_says_so(client, runs):
    # Recorded a second apart, in the same order, as one import records them.
    start = timezone.now()
    for offset, score in enumerate(CurrentScore.objects.order_by("finished_at", "pk")):
        CurrentScore.objects.filter(pk=score.pk).update(finished_at=start + dt.timedelta(seconds=offset))
    response = client.get("/leaderboards/board/progress/")
    figure = response.context["chart"]
    assert figure["data"][0]["x"] == [1, 2, 3]
    assert figure["layout"]["xaxis"]["title"]["text"] == "record number, in order of arrival"
    assert "in the order they arrived instead of a time axis" in response.content.decode()


def test_the_home_page_shows_public_leaderboards_with_their_top_rows(client, runs):
    Leaderboard.objects.create(name="Hidden", slug="hidden", is_public=False)
    response = client.get("/")
    ((board, error, rows, _decimals),) = response.context["leaderboards"]
    assert error is None
    assert board.slug == "board"
    assert [(row.training.name, row.step, row.rank) for row in rows] == [("run-b", 100, 1), ("run-a", 200, 2)]
    assert "Hidden" not in response.content.decode()
