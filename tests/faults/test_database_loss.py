"""The database goes away in the middle of a request: nothing half-written, a 503 that says to retry, and a retry
that records everything once.

On PostgreSQL the request's own server process is killed mid-ingest, after its first batch was written inside the
transaction (see `lose_database`). SQLite has no server to lose; there the same point raises the OperationalError a
lost connection raises, which checks the same rollback and answers without the real disconnection.
"""

import pytest
from django.db import IntegrityError, OperationalError, close_old_connections

from evaluations import queue, results
from evaluations.models import (
    Benchmark,
    Checkpoint,
    CurrentScore,
    Evaluation,
    Metric,
    ModelFamily,
    Score,
    Training,
)
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories
from tests.api.conftest import CREATE_CATALOG, RUN_JOBS, WRITE, client_for
from tests.api.test_imports import lm_eval_file
from tests.web.test_leaderboard_cache import ROW

pytestmark = pytest.mark.django_db(transaction=True)

INGEST_TABLES = (ModelFamily, Training, Checkpoint, Benchmark, Metric, Evaluation, Score, CurrentScore)


def snapshot() -> dict[str, list[dict]]:
    """Every row ingest writes, table by table."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in INGEST_TABLES}


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "database_unavailable"
    assert "again" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0


@pytest.fixture
def writer():
    return client_for(factories.user(perms=(WRITE, *CREATE_CATALOG)))


def test_results_are_all_or_nothing_when_the_database_is_lost_and_a_retry_records_them_once(writer, lose_database):
    factories.metric(benchmark=factories.benchmark(slug="arc_easy"), key="acc")
    body = [
        {"model": "m", "training": "t", "step": step, "benchmark": {"slug": "arc_easy"}, "metrics": {"acc": acc}}
        for step, acc in enumerate([0.5, 0.6, 0.7])
    ]
    before = snapshot()
    # The read model is refreshed after the batch of evaluations and scores is written, in the same transaction.
    seen = lose_database(results, "refresh_current_scores", observe=Evaluation.objects.count)

    lost = writer.post("/api/v1/results/", body, format="json")

    assert_unavailable(lost)
    assert seen == [3]  # the batch was written when the database went away...
    assert snapshot() == before  # ...and none of it, nor its model, training or checkpoints, was kept

    retried = writer.post("/api/v1/results/", body, format="json")
    assert retried.status_code == 201, retried.json()
    assert (retried.json()["created"], retried.json()["unchanged"]) == (3, 0)
    after = snapshot()
    assert [len(after[name]) for name in ("Checkpoint", "Evaluation", "Score", "CurrentScore")] == [3, 3, 3, 3]

    again = writer.post("/api/v1/results/", body, format="json")
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 3)
    assert snapshot() == after


def test_an_lm_eval_upload_is_all_or_nothing_when_the_database_is_lost_after_its_first_file(writer, lose_database):
    body = {
        "files": [
            {"name": "a.json", "content": lm_eval_file(revision="step1000", acc=0.5)},
            {"name": "b.json", "content": lm_eval_file(revision="step2000", acc=0.6)},
        ]
    }
    before = snapshot()
    # One batch per file: the first file is written whole (with its new benchmark and metrics) before the loss.
    seen = lose_database(results, "refresh_current_scores", on_call=2, observe=Evaluation.objects.count)

    lost = writer.post("/api/v1/imports/lm-eval/", body, format="json")

    assert_unavailable(lost)
    assert seen == [2]
    assert snapshot() == before

    retried = writer.post("/api/v1/imports/lm-eval/", body, format="json")
    assert retried.status_code == 201, retried.json()
    assert (retried.json()["created"], retried.json()["unchanged"]) == (2, 0)
    after = snapshot()
    assert [len(after[name]) for name in ("Checkpoint", "Benchmark", "Evaluation", "CurrentScore")] == [2, 1, 2, 4]

    again = writer.post("/api/v1/imports/lm-eval/", body, format="json")
    assert (again.status_code, again.json()["unchanged"]) == (200, 2)
    assert snapshot() == after


def test_a_page_answers_a_friendly_503_while_the_database_is_gone(client, lose_database):
    acc = factories.metric(key="acc")
    factories.score(metric=acc, value=0.5, training="alpha")
    board = Leaderboard.objects.create(name="Main", slug="main")
    LeaderboardMetric.objects.create(leaderboard=board, metric=acc)
    lose_database(Leaderboard, "candidates")

    response = client.get("/leaderboards/main/")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert "Error 503" in html
    assert "Reload this page in a few seconds" in html
    # A server closes a broken connection when the request ends; the test client leaves that to the test.
    close_old_connections()
    again = client.get("/leaderboards/main/")
    assert again.status_code == 200
    assert ROW.findall(again.content.decode()) == [("1", "alpha")]


def test_only_connection_failures_become_503s(monkeypatch):
    def refused(*args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(queue, "claim", refused)
    worker = client_for(factories.user(perms=(RUN_JOBS,)))
    # A refusal of the data is a bug to see, not an outage to wait out: it stays an error (a 500 from a server).
    with pytest.raises(IntegrityError):
        worker.post("/api/v1/evaluations/claim/", {"worker": "w"}, format="json")


def test_a_deadlock_is_a_conflict_to_send_again_not_an_outage(monkeypatch):
    class DeadlockDetected(Exception):
        sqlstate = "40P01"  # how psycopg marks it; Django raises it as an OperationalError

    def deadlocked(*args, **kwargs):
        raise OperationalError("deadlock detected") from DeadlockDetected()

    monkeypatch.setattr(queue, "claim", deadlocked)
    worker = client_for(factories.user(perms=(RUN_JOBS,)))
    response = worker.post("/api/v1/evaluations/claim/", {"worker": "w"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "conflict")
    assert "send it again" in response.json()["detail"]
