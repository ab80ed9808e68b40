"""Who may call what: anonymous clients, a read-only user, tokens with the write permissions, staff."""

import uuid

import pytest

from evaluations.models import Evaluation
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects():
    acc = factories.metric(benchmark=factories.benchmark(slug="arc_easy"), key="acc")
    score = factories.score(metric=acc, value=0.5)
    board = Leaderboard.objects.create(name="Main", slug="main")
    LeaderboardMetric.objects.create(leaderboard=board, metric=acc)
    evaluation = score.evaluation
    checkpoint = evaluation.checkpoint
    return {
        "model": checkpoint.training.model_id,
        "training": checkpoint.training_id,
        "checkpoint": checkpoint.pk,
        "benchmark": acc.benchmark_id,
        "evaluation": evaluation.pk,
        "metric": acc.pk,
    }


def read_paths(objects) -> list[str]:
    paths = []
    for name in ("model", "training", "checkpoint", "benchmark", "evaluation"):
        paths += [f"/api/v1/{name}s/", f"/api/v1/{name}s/{objects[name]}/"]
    paths += ["/api/v1/leaderboards/", "/api/v1/leaderboards/main/", "/api/v1/leaderboards/main/rows/"]
    paths.append(f"/api/v1/rankings/?metric={objects['metric']}")
    return paths


@pytest.mark.parametrize("who", ["anonymous", "reader", "writer", "worker", "staff"])
def test_everyone_may_read_by_default(request, objects, who):
    client = request.getfixturevalue(who)
    for path in read_paths(objects):
        assert client.get(path).status_code == 200, path


def test_without_anonymous_reads_every_read_needs_a_sign_in(anonymous, reader, objects, settings):
    settings.API_ANONYMOUS_READ = False
    for path in read_paths(objects):
        assert anonymous.get(path).status_code == 401, path
        assert reader.get(path).status_code == 200, path


def worker_calls(job: int) -> list[tuple[str, dict]]:
    token = str(uuid.uuid4())
    return [
        ("/api/v1/evaluations/claim/", {"worker": "w"}),
        (f"/api/v1/evaluations/{job}/heartbeat/", {"lease_token": token}),
        (f"/api/v1/evaluations/{job}/complete/", {"lease_token": token, "metrics": {"acc": 0.5}}),
        (f"/api/v1/evaluations/{job}/fail/", {"lease_token": token, "error": "x"}),
    ]


@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("reader", 403), ("writer", 403)])
def test_worker_endpoints_need_the_change_permission(request, objects, who, status):
    client = request.getfixturevalue(who)
    job = factories.evaluation(status=Evaluation.Status.PENDING).pk
    for path, body in worker_calls(job):
        assert client.post(path, body, format="json").status_code == status, path
    assert Evaluation.objects.get(pk=job).status == "pending"


@pytest.mark.parametrize("who", ["worker", "staff"])
def test_worker_endpoints_admit_workers_and_staff(request, objects, who):
    client = request.getfixturevalue(who)
    job = factories.evaluation(status=Evaluation.Status.PENDING).pk
    # Past the permission check: a claim succeeds, the others are refused for a lease this client does not hold.
    statuses = [client.post(path, body, format="json").status_code for path, body in worker_calls(job)]
    assert statuses == [200, 409, 409, 409]


@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("reader", 403), ("worker", 403), ("staff", 201)])
def test_requesting_evaluations_by_role(request, objects, who, status):
    client = request.getfixturevalue(who)
    body = {"checkpoint": objects["checkpoint"], "benchmarks": [objects["benchmark"]]}
    assert client.post("/api/v1/evaluations/", body, format="json").status_code == status
