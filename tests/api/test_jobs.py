"""The evaluation job queue over the API: request, claim, heartbeat, complete, fail, and expired leases."""

import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from evaluations import queue
from evaluations.models import CurrentScore, Evaluation
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def acc():
    return factories.metric(benchmark=factories.benchmark(slug="arc_easy"), key="acc")


def pending(acc, *, step: int = 1000, training_name: str | None = None, **fields) -> Evaluation:
    checkpoint = factories.checkpoint(training_name=training_name, step=step)
    return factories.evaluation(
        checkpoint_obj=checkpoint, benchmark_obj=acc.benchmark, status=Evaluation.Status.PENDING, **fields
    )


def claim(client, **body):
    return client.post("/api/v1/evaluations/claim/", {"worker": "gpu-1", **body}, format="json")


def test_requesting_evaluations_creates_pending_jobs_once(writer, acc):
    other = factories.benchmark(slug="piqa")
    checkpoint = factories.checkpoint()
    body = {"checkpoint": checkpoint.pk, "benchmarks": [acc.benchmark_id, other.pk]}
    first = writer.post("/api/v1/evaluations/", body, format="json")
    assert first.status_code == 201
    assert (first.json()["created"], first.json()["existing"]) == (2, 0)
    assert {row["status"] for row in first.json()["evaluations"]} == {"pending"}
    again = writer.post("/api/v1/evaluations/", body, format="json")
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["existing"]) == (0, 2)
    assert Evaluation.objects.filter(status="pending").count() == 2
    job = Evaluation.objects.first()
    assert (job.source, job.requested_by.username) == ("api", "writer")


def test_requesting_an_unknown_checkpoint_or_benchmark_is_a_400(writer, acc):
    response = writer.post("/api/v1/evaluations/", {"checkpoint": 999, "benchmarks": [acc.benchmark_id]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "checkpoint"
    checkpoint = factories.checkpoint()
    response = writer.post("/api/v1/evaluations/", {"checkpoint": checkpoint.pk, "benchmarks": [999]}, format="json")
    assert response.json()["errors"][0]["field"] == "benchmarks"


def test_requesting_evaluations_needs_a_token_with_add_permission(anonymous, reader, worker, acc):
    body = {"checkpoint": factories.checkpoint().pk, "benchmarks": [acc.benchmark_id]}
    assert anonymous.post("/api/v1/evaluations/", body, format="json").status_code == 401
    assert reader.post("/api/v1/evaluations/", body, format="json").status_code == 403
    assert worker.post("/api/v1/evaluations/", body, format="json").status_code == 403


def test_a_claim_hands_out_the_oldest_pending_job_with_a_lease(worker, acc):
    oldest = pending(acc, step=1)
    pending(acc, step=2)
    response = claim(worker)
    assert response.status_code == 200
    job = response.json()
    assert job["id"] == oldest.pk
    assert (job["status"], job["worker"], job["attempts"]) == ("running", "gpu-1", 1)
    assert job["benchmark"]["slug"] == "arc_easy"
    assert [m["key"] for m in job["benchmark"]["metrics"]] == ["acc"]
    assert job["checkpoint"]["step"] == 1
    stored = Evaluation.objects.get(pk=oldest.pk)
    assert str(stored.lease_token) == job["lease_token"]
    assert stored.lease_expires_at > timezone.now() + timedelta(minutes=9)


def test_a_claim_with_nothing_pending_answers_204(worker, acc):
    assert claim(worker).status_code == 204


def test_a_claim_can_be_limited_to_benchmarks_and_models(worker, acc):
    other = factories.metric(benchmark=factories.benchmark(slug="piqa"))
    pending(acc, step=1)
    wanted = pending(other, step=2, training_name="wanted-run")
    response = claim(worker, benchmark=[other.benchmark_id])
    assert response.json()["id"] == wanted.pk
    assert claim(worker, model=[wanted.checkpoint.training.model_id]).status_code == 204


def test_claiming_needs_the_change_permission(anonymous, reader, writer, staff, acc):
    pending(acc)
    assert claim(anonymous).status_code == 401
    assert claim(reader).status_code == 403
    assert claim(writer).status_code == 403
    assert claim(staff).status_code == 200


def test_a_heartbeat_extends_the_lease_of_its_holder_only(worker, acc):
    pending(acc)
    job = claim(worker, lease_seconds=60).json()
    before = Evaluation.objects.get(pk=job["id"]).lease_expires_at
    url = f"/api/v1/evaluations/{job['id']}/heartbeat/"
    response = worker.post(url, {"lease_token": job["lease_token"], "lease_seconds": 3600}, format="json")
    assert response.status_code == 200
    assert Evaluation.objects.get(pk=job["id"]).lease_expires_at > before + timedelta(minutes=50)
    stranger = worker.post(url, {"lease_token": str(uuid.uuid4())}, format="json")
    assert stranger.status_code == 409
    assert "Another worker" in stranger.json()["detail"]


def test_a_heartbeat_keeps_the_lease_length_the_claim_asked_for(worker, acc):
    pending(acc)
    job = claim(worker, lease_seconds=30).json()
    assert job["lease_seconds"] == 30
    url = f"/api/v1/evaluations/{job['id']}/heartbeat/"
    before = timezone.now()
    response = worker.post(url, {"lease_token": job["lease_token"]}, format="json")
    after = timezone.now()
    assert response.status_code == 200
    expires = Evaluation.objects.get(pk=job["id"]).lease_expires_at
    assert before + timedelta(seconds=30) <= expires <= after + timedelta(seconds=30)
    assert response.json()["lease_seconds"] == 30


def test_a_heartbeat_that_asks_for_another_length_keeps_it_for_the_next_ones(worker, acc):
    pending(acc)
    job = claim(worker, lease_seconds=30).json()
    url = f"/api/v1/evaluations/{job['id']}/heartbeat/"
    worker.post(url, {"lease_token": job["lease_token"], "lease_seconds": 120}, format="json")
    before = timezone.now()
    worker.post(url, {"lease_token": job["lease_token"]}, format="json")
    expires = Evaluation.objects.get(pk=job["id"]).lease_expires_at
    assert before + timedelta(seconds=120) <= expires <= timezone.now() + timedelta(seconds=120)


def test_a_heartbeat_of_a_job_claimed_before_leases_had_a_length_uses_the_servers(worker, acc, settings):
    settings.EVALUATION_LEASE_SECONDS = 45
    pending(acc)
    job = claim(worker).json()
    Evaluation.objects.filter(pk=job["id"]).update(lease_seconds=None)
    before = timezone.now()
    worker.post(f"/api/v1/evaluations/{job['id']}/heartbeat/", {"lease_token": job["lease_token"]}, format="json")
    expires = Evaluation.objects.get(pk=job["id"]).lease_expires_at
    assert before + timedelta(seconds=45) <= expires <= timezone.now() + timedelta(seconds=45)


def test_no_lease_is_longer_than_the_servers_maximum(acc, settings):
    settings.EVALUATION_LEASE_SECONDS = queue.MAX_LEASE_SECONDS * 2
    pending(acc)
    job = queue.claim("gpu-1")
    assert job.lease_seconds == queue.MAX_LEASE_SECONDS
    renewed = queue.heartbeat(job.pk, job.lease_token, lease_seconds=queue.MAX_LEASE_SECONDS * 3)
    assert renewed.lease_expires_at <= timezone.now() + timedelta(seconds=queue.MAX_LEASE_SECONDS)


def test_completing_a_job_turns_it_into_the_succeeded_evaluation_with_its_scores(worker, acc):
    pending(acc)
    job = claim(worker).json()
    body = {"lease_token": job["lease_token"], "metrics": {"acc": {"value": 0.61, "stderr": 0.02}}, "harness": "h"}
    response = worker.post(f"/api/v1/evaluations/{job['id']}/complete/", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["created"] is True
    evaluation = Evaluation.objects.get(pk=job["id"])
    assert (evaluation.status, evaluation.harness, evaluation.lease_expires_at) == ("succeeded", "h", None)
    assert evaluation.fingerprint
    assert list(evaluation.scores.values_list("value", "stderr")) == [(0.61, 0.02)]
    current = CurrentScore.objects.get(metric=acc)
    assert (current.evaluation_id, current.value) == (evaluation.pk, 0.61)
    assert Evaluation.objects.count() == 1


def test_completing_again_with_the_same_scores_changes_nothing(worker, acc):
    pending(acc)
    job = claim(worker).json()
    body = {"lease_token": job["lease_token"], "metrics": {"acc": 0.5}}
    url = f"/api/v1/evaluations/{job['id']}/complete/"
    assert worker.post(url, body, format="json").json()["created"] is True
    again = worker.post(url, body, format="json")
    assert (again.status_code, again.json()["created"]) == (200, False)
    changed = worker.post(url, {**body, "metrics": {"acc": 0.7}}, format="json")
    assert changed.status_code == 409
    assert list(Evaluation.objects.get(pk=job["id"]).scores.values_list("value", flat=True)) == [0.5]


@pytest.mark.parametrize(
    ("metrics", "field"),
    [({"acc": -1e400}, "metrics.acc"), ({"acc": {"value": 1, "stderr": -1}}, "metrics.acc"), ({"f1": 1}, "metrics")],
)
def test_a_completion_is_validated_like_posted_results(worker, acc, metrics, field):
    pending(acc)
    job = claim(worker).json()
    raw = json.dumps({"lease_token": job["lease_token"], "metrics": metrics}).replace("-Infinity", "-1e400")
    response = worker.post(f"/api/v1/evaluations/{job['id']}/complete/", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert Evaluation.objects.get(pk=job["id"]).status == "running"


def test_a_completion_may_create_missing_metrics_when_allowed(acc):
    client = client_for(factories.user(perms=("evaluations.change_evaluation", "evaluations.add_metric")))
    pending(acc)
    job = claim(client).json()
    body = {"lease_token": job["lease_token"], "metrics": {"acc": 0.5, "ppl": 3.0}, "create_missing": True}
    assert client.post(f"/api/v1/evaluations/{job['id']}/complete/", body, format="json").status_code == 200
    assert acc.benchmark.metrics.get(key="ppl").direction == "lower"


def test_only_the_lease_holder_may_complete_or_fail(worker, staff, acc):
    pending(acc)
    job = claim(worker).json()
    wrong = {"lease_token": str(uuid.uuid4()), "metrics": {"acc": 0.5}}
    assert staff.post(f"/api/v1/evaluations/{job['id']}/complete/", wrong, format="json").status_code == 409
    failure = {"lease_token": str(uuid.uuid4()), "error": "boom"}
    assert staff.post(f"/api/v1/evaluations/{job['id']}/fail/", failure, format="json").status_code == 409
    assert Evaluation.objects.get(pk=job["id"]).status == "running"


def test_a_job_operation_on_an_unknown_job_is_a_404(worker):
    body = {"lease_token": str(uuid.uuid4())}
    assert worker.post("/api/v1/evaluations/999/heartbeat/", body, format="json").status_code == 404


def test_failing_a_job_records_the_error(worker, acc):
    pending(acc)
    job = claim(worker).json()
    body = {"lease_token": job["lease_token"], "error": "CUDA out of memory"}
    response = worker.post(f"/api/v1/evaluations/{job['id']}/fail/", body, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["error"]) == ("failed", "CUDA out of memory")
    again = worker.post(
        f"/api/v1/evaluations/{job['id']}/heartbeat/", {"lease_token": job["lease_token"]}, format="json"
    )
    assert again.status_code == 409
    assert "failed" in again.json()["detail"]


def test_an_expired_lease_returns_the_job_to_the_queue_at_the_next_claim(worker, acc):
    pending(acc)
    first = claim(worker).json()
    Evaluation.objects.filter(pk=first["id"]).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    second = claim(worker, worker="gpu-2").json()
    assert second["id"] == first["id"]
    assert (second["worker"], second["attempts"]) == ("gpu-2", 2)
    late = {"lease_token": first["lease_token"], "metrics": {"acc": 0.5}}
    response = worker.post(f"/api/v1/evaluations/{first['id']}/complete/", late, format="json")
    assert response.status_code == 409


def test_a_job_fails_after_the_maximum_number_of_expired_leases(worker, acc, settings):
    settings.EVALUATION_MAX_ATTEMPTS = 2
    job = pending(acc)
    for _ in range(2):
        assert claim(worker).json()["id"] == job.pk
        Evaluation.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert claim(worker).status_code == 204
    job.refresh_from_db()
    assert job.status == "failed"
    assert "Gave up after 2 attempts" in job.error


def test_the_command_requeues_expired_leases(acc):
    expired = pending(acc, step=1)
    queue.claim("w")
    Evaluation.objects.filter(pk=expired.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("requeue_expired_jobs", stdout=out)
    assert "Requeued 1 job(s); failed 0" in out.getvalue()
    expired.refresh_from_db()
    assert (expired.status, expired.lease_token, expired.attempts) == ("pending", None, 1)


def test_a_live_lease_is_not_requeued(acc):
    job = pending(acc)
    queue.claim("w")
    assert queue.requeue_expired() == queue.Requeued(requeued=0, failed=0)
    job.refresh_from_db()
    assert job.status == "running"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("claim/", {}),
        ("claim/", {"worker": "w", "benchmark": "1"}),
        ("claim/", {"worker": "w", "lease_seconds": 1}),
        ("1/heartbeat/", {"lease_token": "not-a-uuid"}),
        ("1/fail/", {"lease_token": str(uuid.uuid4())}),
        ("1/complete/", {"lease_token": str(uuid.uuid4()), "metrics": {"acc": 0.5}, "extra": 1}),
    ],
)
def test_invalid_worker_requests_get_a_400(worker, acc, path, body):
    response = worker.post(f"/api/v1/evaluations/{path}", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]
