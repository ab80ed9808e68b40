"""A saved leaderboard's rendered ranking is cached, and anything it shows that changes shows at once."""

import re
import threading

import pytest
from django.core.cache import cache as django_cache
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from evaluations.current import rebuild_current_scores
from evaluations.models import CurrentScore, Metric
from rankings import cache
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories
from tests.web.test_leaderboard_page import result

pytestmark = pytest.mark.django_db

# The rank and the training's name, first on screen (rankings.tables.screen_sequence).
ROW = re.compile(r'<td class="num rank">(\d+)</td><td class="name"><a href="[^"]+"[^>]*>([^<]+)</a>')


@pytest.fixture
def board():
    acc = factories.metric(key="acc", lower_bound=0, upper_bound=1)
    for training, value in [("alpha", 0.5), ("beta", 0.4)]:
        result(training, 100, {acc: value})
    board = Leaderboard.objects.create(name="Main", slug="main", best_only=True)
    LeaderboardMetric.objects.create(leaderboard=board, metric=acc)
    return board


def ranks(client, path: str = "/leaderboards/main/", **params) -> list[tuple[int, str]]:
    response = client.get(path, params)
    assert response.status_code == 200
    return [(int(rank), name) for rank, name in ROW.findall(response.content.decode())]


def reads_of_the_ranking(client, path: str = "/leaderboards/main/") -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return sum(CurrentScore._meta.db_table in query["sql"] for query in queries)


def test_a_second_request_is_served_from_the_cache(client, board):
    assert reads_of_the_ranking(client) > 0
    assert reads_of_the_ranking(client) == 0
    assert ranks(client) == [(1, "alpha"), (2, "beta")]


def test_a_new_result_shows_at_once(client, board):
    assert ranks(client) == [(1, "alpha"), (2, "beta")]
    result("gamma", 100, {board.entries.get().metric: 0.9})
    assert ranks(client) == [(1, "gamma"), (2, "alpha"), (3, "beta")]


def test_a_new_result_shows_at_once_after_its_transaction_commits(client, board, django_capture_on_commit_callbacks):
    assert ranks(client) == [(1, "alpha"), (2, "beta")]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result("beta", 200, {board.entries.get().metric: 0.8})
    assert callbacks
    assert ranks(client) == [(1, "beta"), (2, "alpha")]


def test_a_metric_direction_change_reorders_at_once(client, board):
    assert ranks(client) == [(1, "alpha"), (2, "beta")]
    metric = board.entries.get().metric
    metric.direction = Metric.Direction.LOWER
    metric.save()
    assert ranks(client) == [(1, "beta"), (2, "alpha")]


def test_a_leaderboard_setting_change_shows_at_once(client, board):
    assert ranks(client) == [(1, "alpha"), (2, "beta")]
    result("alpha", 50, {board.entries.get().metric: 0.45})
    assert len(ranks(client)) == 2
    board.best_only = False
    board.save()
    assert ranks(client) == [(1, "alpha"), (2, "alpha"), (3, "beta")]


def test_a_filter_added_to_the_leaderboard_shows_at_once(client, board):
    assert len(ranks(client)) == 2
    beta = factories.training(name="beta", model_name="m")
    board.filter_trainings.add(beta)
    assert ranks(client) == [(1, "beta")]


def test_a_renamed_training_shows_at_once(client, board):
    assert ranks(client)[0] == (1, "alpha")
    alpha = factories.training(name="alpha", model_name="m")
    alpha.name = "alpha-renamed"
    alpha.save()
    assert ranks(client)[0] == (1, "alpha-renamed")


def test_a_result_on_another_benchmark_keeps_the_cached_ranking(client, board):
    other = factories.metric(key="f1", benchmark=factories.benchmark(slug="other"))
    reads_of_the_ranking(client)
    result("alpha", 100, {other: 0.3})
    assert reads_of_the_ranking(client) == 0


def test_a_rebuilt_read_model_renders_again(client, board):
    reads_of_the_ranking(client)
    rebuild_current_scores()
    assert reads_of_the_ranking(client) > 0


def test_query_strings_and_fragments_are_cached_apart(client, board):
    assert ranks(client, best_only="1") == [(1, "alpha"), (2, "beta")]
    result("beta", 200, {board.entries.get().metric: 0.1})
    assert ranks(client, best_only="0") == [(1, "alpha"), (2, "beta"), (3, "beta")]
    fragment = client.get("/leaderboards/main/", headers={"HX-Request": "true"})
    assert "<html" not in fragment.content.decode()
    assert ROW.findall(fragment.content.decode())
    assert "<html" in client.get("/leaderboards/main/").content.decode()


def test_a_cached_private_leaderboard_stays_private(client, board, staff_client):
    board.is_public = False
    board.save()
    assert staff_client.get("/leaderboards/main/").status_code == 200
    client.logout()
    assert client.get("/leaderboards/main/").status_code == 404


def test_the_cache_can_be_turned_off(client, board, settings):
    settings.RANKING_CACHE_SECONDS = 0
    reads_of_the_ranking(client)
    assert reads_of_the_ranking(client) > 0


def test_pickers_list_a_new_training_and_a_renamed_metric_at_once(client, board):
    assert "fresh-run" not in client.get("/rank/").content.decode()
    factories.training(name="fresh-run", model_name="m")
    metric = board.entries.get().metric
    metric.name = "Accuracy, renamed"
    metric.save()
    html = client.get("/rank/").content.decode()
    assert "fresh-run" in html
    assert "Accuracy, renamed" in html


def test_the_api_rows_of_a_saved_leaderboard_are_cached_and_show_a_new_result_at_once(client, board):
    path = "/api/v1/leaderboards/main/rows/"
    assert reads_of_the_ranking(client, path) > 0
    assert reads_of_the_ranking(client, path) == 0
    result("gamma", 100, {board.entries.get().metric: 0.9})
    rows = client.get(path).json()["results"]
    assert [(row["rank"], row["training"]["name"]) for row in rows] == [(1, "gamma"), (2, "alpha"), (3, "beta")]


def entry_of(board, path="/leaderboards/main/"):
    request = RequestFactory().get(path)
    request.htmx = False
    return request, cache.entry_key(request, board, "page")


def test_a_request_waits_for_another_rendering_the_same_entry(board):
    request, key = entry_of(board)
    django_cache.add(f"{key}:rendering", 1)
    threading.Timer(0.1, lambda: django_cache.set(key, "rendered by the other request")).start()

    def render():
        raise AssertionError("rendered twice")

    assert cache.rendered(request, board, render) == "rendered by the other request"


def test_a_request_renders_itself_when_the_other_gives_up(board):
    request, key = entry_of(board)
    django_cache.add(f"{key}:rendering", 1)
    threading.Timer(0.1, lambda: django_cache.delete(f"{key}:rendering")).start()
    assert cache.rendered(request, board, lambda: "mine") == "mine"
    assert django_cache.get(key) == "mine"
