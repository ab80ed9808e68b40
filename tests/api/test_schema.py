"""The OpenAPI schema validates, and schemathesis finds no 500 and no response that contradicts it."""

from io import StringIO

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from evaluations.models import Evaluation
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 25
# Over HTTP, as a client sees it; `slow`, so CI runs it once per database.
LIVE_EXAMPLES = 30
# No 500, and every response as the schema documents it: status code, content type, headers and body. (Whether
# schema-valid data is accepted is not checked: an unknown benchmark or id is valid JSON the API rightly refuses.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_schema_validates_without_warnings():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "openapi: 3" in out.getvalue()


def test_the_docs_are_served_without_a_cdn(client):
    for path in ("/api/docs/", "/api/redoc/"):
        page = client.get(path).content.decode()
        for cdn in ("cdn.", "unpkg", "jsdelivr"):
            assert cdn not in page
        assert "/static/drf_spectacular_sidecar/" in page


def test_the_schema_documents_every_error_response(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"400", "401", "403", "404", "429"} <= set(operation["responses"]), (method, path)


# Loaded once, through WSGI, from the app itself (the schema view needs no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
# The same document, unbound from the app, so that its cases go over HTTP to a running server.
http_schema = schemathesis.openapi.from_dict(schema.raw_schema)


@pytest.fixture
def api_data(settings, db):
    yield from _api_data(settings)


@pytest.fixture
def committed_api_data(settings, transactional_db):
    """The same rows, committed, for a server in another thread to read."""
    yield from _api_data(settings)


def _api_data(settings):
    """A little of everything for the generated requests to find, with throttling off."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None}}
    acc = factories.metric(benchmark=factories.benchmark(slug="arc_easy"), key="acc")
    factories.score(metric=acc, value=0.5, stderr=0.01)
    board = Leaderboard.objects.create(name="Main", slug="main")
    LeaderboardMetric.objects.create(leaderboard=board, metric=acc)
    for step in range(3):
        factories.evaluation(
            checkpoint_obj=factories.checkpoint(step=step),
            benchmark_obj=acc.benchmark,
            status=Evaluation.Status.PENDING,
        )
    # In-process requests would otherwise close the test transaction's connection (PostgreSQL).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_key(db) -> str:
    return factories.api_token(owner=factories.user(is_staff=True))[1]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_the_api_conforms_to_its_schema(case, api_data, staff_key):
    case.call_and_validate(headers={"Authorization": f"Token {staff_key}"}, checks=CHECKS)


@pytest.mark.slow
@http_schema.parametrize()
@settings(
    max_examples=LIVE_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_a_live_server_conforms_to_its_schema(case, committed_api_data, live_server, staff_key):
    case.call_and_validate(base_url=live_server.url, headers={"Authorization": f"Token {staff_key}"}, checks=CHECKS)
