"""Every request's database work ends at REQUEST_TIMEOUT: stopped, rolled back, answered with a 503."""

import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from evaluations.models import Benchmark, Evaluation
from leaderboard_site.deadline import RequestTimedOut, request_deadline
from tests import factories

pytestmark = pytest.mark.django_db

# Counts to a hundred million: minutes on either database, unless it is stopped.
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000) SELECT count(*) FROM c"


def many_tasks_file(tasks: int) -> SimpleUploadedFile:
    results = {f"task_{n}": {"alias": f"task_{n}", "acc,none": 0.5, "acc_stderr,none": 0.01} for n in range(tasks)}
    document = {
        "results": results,
        "config": {"model": "hf", "model_args": "pretrained=EleutherAI/pythia-160m,revision=step1000"},
    }
    return SimpleUploadedFile("big.json", json.dumps(document).encode(), content_type="application/json")


def test_an_upload_past_the_deadline_is_stopped_and_nothing_of_it_is_kept(creator, settings):
    settings.REQUEST_TIMEOUT = 0.2
    response = creator.post("/api/v1/imports/lm-eval/", {"files": [many_tasks_file(400)]}, format="multipart")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "request_timeout"
    assert "0.2 seconds" in body["detail"]
    assert not Evaluation.objects.exists()
    assert not Benchmark.objects.exists()


def test_the_same_upload_within_the_deadline_is_imported(creator, settings):
    settings.REQUEST_TIMEOUT = 60
    response = creator.post("/api/v1/imports/lm-eval/", {"files": [many_tasks_file(20)]}, format="multipart")
    assert response.status_code == 201, response.json()
    assert Evaluation.objects.count() == 20


def test_a_page_past_the_deadline_answers_the_timeout_page(client, settings):
    factories.score(metric=factories.metric(), value=0.5)
    settings.REQUEST_TIMEOUT = 1e-9
    response = client.get("/")
    assert response.status_code == 503
    assert "took too long" in response.content.decode()


def test_a_running_statement_is_cancelled_at_the_deadline_and_the_connection_recovers():
    started = time.monotonic()
    # As in a request: its transaction rolls back what it did, the cancelled statement included.
    with pytest.raises(RequestTimedOut), request_deadline(0.3), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(ENDLESS)
    assert time.monotonic() - started < 10
    with connection.cursor() as cursor:
        cursor.execute(ENDLESS.replace("100000000", "10"))
        assert cursor.fetchone() == (10,)
        if connection.vendor == "postgresql":
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone() == ("0",)
