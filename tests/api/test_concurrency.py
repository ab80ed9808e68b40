"""Concurrent clients (PostgreSQL: real concurrent transactions): jobs handed out once, results recorded once."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from evaluations import queue
from evaluations.models import Evaluation
from tests import factories
from tests.api.conftest import RUN_JOBS, client_for
from tests.threads import at_once

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL"),
]

WORKERS = 8


def make_jobs(count: int) -> list[int]:
    benchmark = factories.benchmark(slug="arc_easy")
    factories.metric(benchmark=benchmark)
    training = factories.training(name="run")
    return [
        factories.evaluation(
            checkpoint_obj=factories.checkpoint(training=training, step=step),
            benchmark_obj=benchmark,
            status=Evaluation.Status.PENDING,
        ).pk
        for step in range(count)
    ]


def run_workers(work) -> list:
    """Run `work(index)` in WORKERS threads started together; returns what each returned, in order."""
    return at_once(*(lambda index=index: work(index) for index in range(WORKERS)))


def claim_until_empty(client) -> list[int]:
    claimed = []
    while True:
        response = client.post("/api/v1/evaluations/claim/", {"worker": "w"}, format="json")
        if response.status_code == 204:
            return claimed
        assert response.status_code == 200, response.content
        claimed.append(response.json()["id"])


def test_concurrent_claims_hand_out_every_job_exactly_once():
    jobs = make_jobs(60)
    clients = [client_for(factories.user(perms=(RUN_JOBS,))) for _ in range(WORKERS)]
    claimed = run_workers(lambda index: claim_until_empty(clients[index]))
    counts = Counter(job for batch in claimed for job in batch)
    assert sorted(counts) == sorted(jobs)
    assert set(counts.values()) == {1}
    assert sum(1 for batch in claimed if batch) > 1  # the work was really shared
    assert set(Evaluation.objects.values_list("status", "attempts")) == {("running", 1)}
    assert Evaluation.objects.values("lease_token").distinct().count() == len(jobs)


def test_expired_leases_are_requeued_once_under_concurrent_claims():
    jobs = make_jobs(30)
    for _ in jobs:
        queue.claim("crashed-worker")
    expired = jobs[::2]
    Evaluation.objects.filter(pk__in=expired).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    claimed = run_workers(lambda index: _claim_all(f"w{index}"))
    counts = Counter(job for batch in claimed for job in batch)
    assert sorted(counts) == sorted(expired)
    assert set(counts.values()) == {1}
    assert set(Evaluation.objects.filter(pk__in=expired).values_list("status", "attempts")) == {("running", 2)}
    still_held = Evaluation.objects.exclude(pk__in=expired)
    assert set(still_held.values_list("worker", "attempts")) == {("crashed-worker", 1)}


def _claim_all(worker: str) -> list[int]:
    claimed = []
    while (job := queue.claim(worker)) is not None:
        claimed.append(job.pk)
    return claimed


def test_concurrent_requests_for_the_same_evaluation_queue_it_once():
    benchmark = factories.benchmark(slug="arc_easy")
    checkpoint = factories.checkpoint()
    clients = [client_for(factories.user(perms=("evaluations.add_evaluation",))) for _ in range(WORKERS)]
    body = {"checkpoint": checkpoint.pk, "benchmarks": [benchmark.pk]}
    statuses = run_workers(lambda index: clients[index].post("/api/v1/evaluations/", body, format="json").status_code)
    assert statuses.count(201) == 1
    assert set(statuses) <= {200, 201, 409}  # 409: lost the race against the constraint, asked to send it again
    assert Evaluation.objects.filter(status="pending").count() == 1


def test_the_same_results_posted_at_once_are_recorded_once():
    benchmark = factories.benchmark(slug="arc_easy")
    factories.metric(benchmark=benchmark, key="acc")
    clients = [client_for(factories.user(perms=("evaluations.add_evaluation",))) for _ in range(WORKERS)]
    body = [
        {"model": "m", "training": "t", "step": step, "benchmark": {"slug": "arc_easy"}, "metrics": {"acc": 0.5}}
        for step in range(5)
    ]
    statuses = run_workers(lambda index: clients[index].post("/api/v1/results/", body, format="json").status_code)
    assert sorted(statuses) == [200] * (WORKERS - 1) + [201]
    assert Evaluation.objects.count() == 5
