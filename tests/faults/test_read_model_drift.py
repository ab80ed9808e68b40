"""A read-model row deleted by hand: the leaderboard loses a training, `rebuild_current_scores --check` names the
drift and fails, the rebuild restores the row, and the page and the API rank the training again."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from evaluations.models import CurrentScore
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories
from tests.api.conftest import client_for
from tests.web.test_leaderboard_cache import ROW

pytestmark = pytest.mark.django_db


@pytest.fixture
def acc():
    """The metric of the leaderboard "main", with one checkpoint of three trainings."""
    metric = factories.metric(benchmark=factories.benchmark(slug="arc_easy"), key="acc")
    for training, value in [("alpha", 0.7), ("beta", 0.6), ("gamma", 0.5)]:
        factories.score(metric=metric, value=value, training=training)
    leaderboard = Leaderboard.objects.create(name="Main", slug="main")
    LeaderboardMetric.objects.create(leaderboard=leaderboard, metric=metric)
    return metric


def page_ranks(client) -> list[tuple[str, int]]:
    """The ranks the leaderboard page shows, as its visitors read them."""
    response = client.get("/leaderboards/main/")
    assert response.status_code == 200
    return [(name, int(rank)) for rank, name in ROW.findall(response.content.decode())]


def api_ranks(metric) -> list[tuple[str, int]]:
    """The leaderboard's rows from the API, checked against the ad-hoc ranking API on the same metric."""
    api = client_for()
    board = api.get("/api/v1/leaderboards/main/rows/")
    ranking = api.get("/api/v1/rankings/", {"metric": metric.pk})
    assert (board.status_code, ranking.status_code) == (200, 200)
    rows = [(row["training"]["name"], row["rank"]) for row in board.json()["results"]]
    assert rows == [(row["training"]["name"], row["rank"]) for row in ranking.json()["results"]]
    return rows


def check() -> str:
    out = StringIO()
    call_command("rebuild_current_scores", "--check", stdout=out)
    return out.getvalue()


def test_a_current_score_deleted_by_hand_is_found_by_the_check_and_restored_by_the_rebuild(client, acc):
    ranked = [("alpha", 1), ("beta", 2), ("gamma", 3)]
    # Not the leaderboard's page or rows yet: their cached renderings would outlive a change made behind the ORM's
    # back (no version stamp moves), until the rebuild renews them all. The ad-hoc ranking is never cached.
    ranking = client_for().get("/api/v1/rankings/", {"metric": acc.pk}).json()["results"]
    assert [(row["training"]["name"], row["rank"]) for row in ranking] == ranked
    assert "match the evaluation history" in check()
    beta = CurrentScore.objects.get(training__name="beta")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {CurrentScore._meta.db_table} WHERE id = %s", [beta.pk])

    # The pages read the read model: beta is gone from them, and gamma moved up.
    assert page_ranks(client) == api_ranks(acc) == [("alpha", 1), ("gamma", 2)]
    with pytest.raises(CommandError) as drifted:
        check()
    assert drifted.value.returncode == 1  # manage.py exits with it
    assert str(drifted.value) == (
        "The current scores have drifted from the evaluation history: 1 missing, 0 extra, 0 different."
    )

    out = StringIO()
    call_command("rebuild_current_scores", stdout=out)
    assert "Rebuilt the current scores: 3 rows." in out.getvalue()

    assert "match the evaluation history" in check()
    restored = CurrentScore.objects.get(training__name="beta")
    assert (restored.evaluation_id, restored.value, restored.oriented) == (beta.evaluation_id, 0.6, 0.6)
    assert page_ranks(client) == api_ranks(acc) == ranked
