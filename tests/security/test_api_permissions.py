"""Who may call what in the API: the expected status of every (endpoint, method) for every kind of client.

Clients: anonymous; a token of a user without permissions (user), with evaluations.add_evaluation (writer), with
evaluations.change_evaluation (worker), of staff; session (a browser signed in with both permissions, no token: it
may read, never write); revoked (a revoked token with every permission); deactivated (a token of an inactive user).
tests/api/test_permissions.py checks the same rules endpoint by endpoint; this is the whole table, refusals
included, and a refused request writes nothing.
"""

from collections.abc import Callable

import pytest
from django.urls import reverse

from .conftest import api_client, attempt
from .writes import WRITES, write

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "user", "writer", "worker", "staff", "session", "revoked", "deactivated")
REFUSED = {401, 403, 404, 405, 409}


def every(code: int, **exceptions: int) -> dict:
    # A revoked token, or a token of an inactive user, is refused before anything else.
    return {role: exceptions.get(role, code) for role in ROLES} | {"revoked": 401, "deactivated": 401}


READ = every(200)
NOT_ALLOWED = every(405)
# Anonymous clients are asked for credentials; tokens without the permission and sessions are refused.
ADD = every(403, anonymous=401, writer=201, staff=201)
RUN = every(403, anonymous=401, worker=409, staff=409)  # 409: past the permission, this client holds no lease
# A view that admits only writers answers a method it lacks with 405 to them, and refuses everyone else first.
ADD_ONLY_VIEW = every(403, anonymous=401, writer=405, staff=405)


def at(name: str, *args: Callable) -> Callable:
    return lambda w: reverse(name, args=[arg(w) for arg in args])


def detail(name: str, pk: Callable) -> dict:
    return {name: (at(name, pk), {"GET": READ, "POST": NOT_ALLOWED, "DELETE": NOT_ALLOWED})}


def listing(name: str) -> dict:
    return {name: (at(name), {"GET": READ, "POST": NOT_ALLOWED, "PUT": NOT_ALLOWED})}


API = {
    **listing("api:model-list"),
    **detail("api:model-detail", lambda w: w.checkpoint.training.model_id),
    **listing("api:training-list"),
    **detail("api:training-detail", lambda w: w.checkpoint.training_id),
    **listing("api:checkpoint-list"),
    **detail("api:checkpoint-detail", lambda w: w.checkpoint.pk),
    **listing("api:benchmark-list"),
    **detail("api:benchmark-detail", lambda w: w.benchmark.pk),
    "api:evaluation-list": (at("api:evaluation-list"), {"GET": READ, "POST": ADD, "DELETE": NOT_ALLOWED}),
    **detail("api:evaluation-detail", lambda w: w.pending.pk),
    "api:evaluation-claim": (
        at("api:evaluation-claim"),
        {"GET": NOT_ALLOWED, "POST": every(403, anonymous=401, worker=200, staff=200)},
    ),
    "api:evaluation-heartbeat": (at("api:evaluation-heartbeat", lambda w: w.running.pk), {"POST": RUN}),
    "api:evaluation-complete": (at("api:evaluation-complete", lambda w: w.running.pk), {"POST": RUN}),
    "api:evaluation-fail": (at("api:evaluation-fail", lambda w: w.running.pk), {"GET": NOT_ALLOWED, "POST": RUN}),
    "api:results": (at("api:results"), {"GET": ADD_ONLY_VIEW, "POST": ADD}),
    "api:import-lm-eval": (at("api:import-lm-eval"), {"GET": ADD_ONLY_VIEW, "POST": ADD, "PUT": ADD_ONLY_VIEW}),
    **listing("api:leaderboard-list"),
    "api:leaderboard-detail": (at("api:leaderboard-detail", lambda w: w.board.slug), {"GET": READ}),
    "api:leaderboard-rows": (at("api:leaderboard-rows", lambda w: w.board.slug), {"GET": READ}),
    "api:rankings": (lambda w: f"{reverse('api:rankings')}?metric={w.metric.pk}", {"GET": READ, "POST": NOT_ALLOWED}),
    "api:schema": (at("api:schema"), {"GET": READ}),
    "api:docs": (at("api:docs"), {"GET": READ}),
    "api:redoc": (at("api:redoc"), {"GET": READ}),
    # Anything else under /api/: a JSON 404 whoever asks, before any authentication.
    "api/": (
        lambda w: "/api/v1/nothing/",
        {
            "GET": every(404) | {"revoked": 404, "deactivated": 404},
            "POST": every(404) | {"revoked": 404, "deactivated": 404},
        },
    ),
}
# Private leaderboards exist only for staff and holders of rankings.view_private_leaderboard.
PRIVATE = {
    "leaderboard-detail (private)": (
        at("api:leaderboard-detail", lambda w: w.private_board.slug),
        every(404, staff=200),
    ),
    "leaderboard-rows (private)": (at("api:leaderboard-rows", lambda w: w.private_board.slug), every(404, staff=200)),
}

CASES = [pytest.param(name, method, id=f"{name} {method}") for name, (_, methods) in API.items() for method in methods]


@pytest.mark.parametrize(("name", "method"), CASES)
def test_each_client_gets_the_expected_status_and_refusals_write_nothing(world, name, method):
    clients = {role: api_client(role) for role in ROLES}
    url = API[name][0](world)
    body = write(name, world)[1] if name in WRITES else {}
    results = {}
    for role, client in clients.items():
        send = getattr(client, method.lower())
        response, wrote = attempt(lambda: send(url, body, format="json") if method != "GET" else send(url))  # noqa: B023
        results[role] = (response.status_code, wrote)
        if response.status_code >= 400 and url.startswith("/api/v1/"):  # errors in JSON, never an HTML page
            assert response["Content-Type"] == "application/json", (role, response)
    assert {role: status for role, (status, _) in results.items()} == API[name][1][method]
    assert [role for role, (status, wrote) in results.items() if status in REFUSED and wrote] == []
    if method == "POST" and name in WRITES:
        assert all(wrote for status, wrote in results.values() if status in (200, 201)), results


@pytest.mark.parametrize("name", PRIVATE)
def test_private_leaderboards_exist_only_for_those_who_may_see_them(world, name):
    url, expected = PRIVATE[name]
    clients = {role: api_client(role) for role in ROLES}
    assert {role: client.get(url(world)).status_code for role, client in clients.items()} == expected


def test_refusals_say_why_in_json(world):
    url, body = write("api:results", world)
    answers = {role: api_client(role).post(url, body, format="json").json() for role in ROLES if role != "writer"}
    assert answers["anonymous"]["code"] == "not_authenticated"
    assert "lacks the permission evaluations.add_evaluation" in answers["user"]["detail"]
    assert "Writes need an API token" in answers["session"]["detail"]
    assert answers["revoked"]["detail"] == answers["deactivated"]["detail"] == "Invalid, revoked or expired token."
