"""An evaluation worker dies holding a job, through the API with real leases running out.

tests/api/test_jobs.py checks each rule with the expiry moved by hand, and tests/api/test_concurrency.py races the
claims of many live workers; this is the whole story of a crash: the lease runs out untouched, the job goes to one
of two workers asking at once, the dead worker's late answers change nothing, and a job whose workers keep dying
fails after its last attempt instead of going round for ever.
"""

import time
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from evaluations.models import CurrentScore, Evaluation
from tests import factories
from tests.api.conftest import RUN_JOBS, client_for
from tests.faults.conftest import ON_POSTGRESQL
from tests.threads import at_once

pytestmark = pytest.mark.django_db(transaction=True)

# Short enough to wait out for real; the API refuses leases this short, so the setting provides it.
LEASE_SECONDS = 1


@pytest.fixture
def job():
    acc = factories.metric(benchmark=factories.benchmark(slug="arc_easy"), key="acc")
    return factories.evaluation(benchmark_obj=acc.benchmark, status=Evaluation.Status.PENDING)


def worker():
    return client_for(factories.user(perms=(RUN_JOBS,)))


def claim(client, name: str):
    return client.post("/api/v1/evaluations/claim/", {"worker": name}, format="json")


def act(client, job_id: int, action: str, token: str, **body):
    return client.post(f"/api/v1/evaluations/{job_id}/{action}/", {"lease_token": token, **body}, format="json")


def outlive_lease(job_id: int) -> None:
    """Wait, without a heartbeat, until the job's lease has run out."""
    expires = Evaluation.objects.get(pk=job_id).lease_expires_at
    time.sleep(max(0.0, (expires - timezone.now()).total_seconds()) + 0.05)


def assert_nothing_recorded(job: Evaluation) -> None:
    assert not job.scores.exists()
    assert not CurrentScore.objects.exists()


def assert_late_answers_refused(client, job: Evaluation, token: str) -> None:
    """The dead worker comes back: completing, failing or extending with its old token is a 409 and writes nothing."""
    before = Evaluation.objects.values().get(pk=job.pk)
    for action, body in [("complete", {"metrics": {"acc": 0.99}}), ("fail", {"error": "late"}), ("heartbeat", {})]:
        response = act(client, job.pk, action, token, **body)
        assert response.status_code == 409, (action, response.json())
        assert response.json()["code"] == "conflict"
    assert Evaluation.objects.values().get(pk=job.pk) == before


def test_a_dead_workers_job_goes_to_exactly_one_other_worker_and_its_late_result_is_refused(settings, job):
    settings.EVALUATION_LEASE_SECONDS = LEASE_SECONDS
    dead = worker()
    first = claim(dead, "dead").json()
    assert (first["id"], first["attempts"]) == (job.pk, 1)

    outlive_lease(job.pk)  # the worker died: no heartbeat, no answer
    settings.EVALUATION_LEASE_SECONDS = 600  # the next holder's lease outlives the test
    survivors = [worker(), worker()]
    asks = [lambda client=client, index=index: claim(client, f"gpu-{index}") for index, client in enumerate(survivors)]
    # Two claims racing for the requeued job; SQLite runs them one after the other (its test database is one
    # connection's), PostgreSQL at the same moment.
    responses = at_once(*asks) if ON_POSTGRESQL else [ask() for ask in asks]

    assert sorted(response.status_code for response in responses) == [200, 204]
    holder_index, second = next((i, r.json()) for i, r in enumerate(responses) if r.status_code == 200)
    assert (second["id"], second["attempts"], second["worker"]) == (job.pk, 2, f"gpu-{holder_index}")
    assert second["lease_token"] != first["lease_token"]

    job.refresh_from_db()
    assert_late_answers_refused(dead, job, first["lease_token"])
    assert_nothing_recorded(job)
    assert (job.status, job.worker) == ("running", f"gpu-{holder_index}")

    done = act(survivors[holder_index], job.pk, "complete", second["lease_token"], metrics={"acc": 0.61})
    assert done.status_code == 200, done.json()
    assert_late_answers_refused(dead, job, first["lease_token"])
    assert list(job.scores.values_list("value", flat=True)) == [0.61]
    assert list(CurrentScore.objects.values_list("evaluation_id", "value")) == [(job.pk, 0.61)]
    assert Evaluation.objects.count() == 1
    assert claim(dead, "dead").status_code == 204  # nothing left to hand out


def test_a_job_whose_workers_keep_dying_fails_after_its_last_attempt(settings, job):
    settings.EVALUATION_LEASE_SECONDS = LEASE_SECONDS
    settings.EVALUATION_MAX_ATTEMPTS = 3
    client = worker()
    tokens = []
    for attempt in (1, 2, 3):
        response = claim(client, f"doomed-{attempt}")
        assert (response.status_code, response.json()["attempts"]) == (200, attempt)
        tokens.append(response.json()["lease_token"])
        outlive_lease(job.pk)

    assert claim(client, "next").status_code == 204  # not handed out a fourth time

    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_token, job.lease_expires_at) == ("failed", 3, None, None)
    assert job.error == "Gave up after 3 attempts: the lease expired each time without a result."
    for token in tokens:
        assert_late_answers_refused(client, job, token)
    assert act(client, job.pk, "complete", str(uuid.uuid4()), metrics={"acc": 0.5}).status_code == 409
    assert_nothing_recorded(job)
    out = StringIO()
    call_command("requeue_expired_jobs", stdout=out)
    assert "Requeued 0 job(s); failed 0" in out.getvalue()
    assert Evaluation.objects.get(pk=job.pk).status == "failed"
