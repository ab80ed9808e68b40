"""What the security tests share: a small world of objects, a client per role, and a snapshot of what is stored."""

from dataclasses import dataclass

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from evaluations.models import Benchmark, Checkpoint, Evaluation, Metric, Tag
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories

# What the site's write pages need: requesting evaluations, cancelling jobs, choosing a deployment.
SITE_PERMS = ("evaluations.add_evaluation", "evaluations.change_evaluation", "rankings.add_deploymentselection")
ADD = "evaluations.add_evaluation"
RUN_JOBS = "evaluations.change_evaluation"
# Rows that change on every request without being a write of the request's own: sessions, "last used" stamps.
VOLATILE = {"sessions.session", "admin.logentry"}
VOLATILE_FIELDS = {"last_used_at", "last_login"}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Sign-in tests check many passwords: a fast hash keeps them quick (the hasher is not what they test).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Login failures and API throttles are counted in the cache: every test starts with none.
    cache.clear()
    yield
    cache.clear()


@dataclass
class World:
    checkpoint: Checkpoint
    benchmark: Benchmark  # has a result on the checkpoint
    missing: Benchmark  # active, nothing yet on the checkpoint: what a request asks for
    metric: Metric
    pending: Evaluation
    running: Evaluation
    board: Leaderboard
    private_board: Leaderboard
    tag: Tag


@pytest.fixture
def world() -> World:
    metric = factories.metric(benchmark=factories.benchmark(slug="arc_easy", name="ARC easy"), key="acc")
    score = factories.score(metric=metric, value=0.5, training="run")
    checkpoint = score.evaluation.checkpoint
    tag = Tag.objects.create(name="deduped")
    checkpoint.training.model.tags.add(tag)
    queued = factories.benchmark(slug="queued")
    board = Leaderboard.objects.create(name="Main", slug="main")
    private_board = Leaderboard.objects.create(name="Secret", slug="secret", is_public=False)
    for leaderboard in (board, private_board):
        LeaderboardMetric.objects.create(leaderboard=leaderboard, metric=metric)
    return World(
        checkpoint=checkpoint,
        benchmark=metric.benchmark,
        missing=factories.benchmark(slug="piqa"),
        metric=metric,
        pending=factories.evaluation(checkpoint_obj=checkpoint, benchmark_obj=queued, status="pending"),
        running=factories.evaluation(
            checkpoint_obj=factories.checkpoint(training=checkpoint.training, step=2000),
            benchmark_obj=queued,
            status="running",
        ),
        board=board,
        private_board=private_board,
        tag=tag,
    )


def site_client(role: str, *, enforce_csrf: bool = False) -> Client:
    """A browser of `role`: anonymous, user (no permissions), permitted, staff (no permissions), superuser, or
    deactivated (signed in with every permission, then made inactive)."""
    client = Client(enforce_csrf_checks=enforce_csrf)
    if role == "anonymous":
        return client
    perms = SITE_PERMS if role in ("permitted", "deactivated") else ()
    account = factories.user(perms=perms, is_staff=role in ("staff", "superuser"), is_superuser=role == "superuser")
    client.force_login(account)
    if role == "deactivated":
        account.is_active = False
        account.save()
    return client


API_PERMS = {"user": (), "writer": (ADD,), "worker": (RUN_JOBS,), "session": (ADD, RUN_JOBS)}


def api_client(role: str) -> APIClient:
    """An API client of `role`: anonymous; a token of user (no permissions), writer, worker or staff; session (a
    browser signed in with the write permissions, no token); revoked (a revoked token with every permission);
    deactivated (a token of an inactive user with every permission)."""
    client = APIClient()
    if role == "anonymous":
        return client
    account = factories.user(perms=API_PERMS.get(role, (ADD, RUN_JOBS)), is_staff=role == "staff")
    if role == "session":
        client.force_login(account)
        return client
    token, key = factories.api_token(owner=account)
    if role == "revoked":
        token.revoke()
    if role == "deactivated":
        account.is_active = False
        account.save()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def snapshot() -> dict:
    """Every stored row of the project's tables (sessions and use stamps aside): equal snapshots, nothing written."""
    state = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in VOLATILE or model._meta.proxy:
            continue
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in VOLATILE_FIELDS]
        state[label] = list(model._default_manager.order_by("pk").values_list(*fields))
    return state


def attempt(send) -> tuple:
    """Run `send()` (a request), then undo whatever it wrote; returns its response and whether it wrote anything."""
    with transaction.atomic():
        before = snapshot()
        response = send()
        wrote = snapshot() != before
        transaction.set_rollback(True)
    return response, wrote


def outcome(response) -> int | str:
    """The status, with redirects to a sign-in page named: 'login' (the site's) or 'admin-login'."""
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return "login"
        if location.startswith("/admin/login/"):
            return "admin-login"
    return response.status_code


def text_of(response) -> str:
    return b"".join(response.streaming_content if response.streaming else [response.content]).decode()
