"""Who may do what on the site's pages: the expected outcome of every (page, method) for every role.

Roles: anonymous; user (signed in, no permissions); permitted (may request evaluations, cancel jobs and choose
deployments); staff (is_staff, no permissions); deactivated (signed in with every permission, then made inactive: the
session no longer counts). Outcomes are status codes, 'login' for a redirect to the sign-in page. A refused request
writes nothing; `test_every_route_has_a_matrix_entry` (test_routes.py) makes sure no page is left out.
The admin has its own matrix in test_admin_permissions.py; the API's is in test_api_permissions.py.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from .conftest import World, attempt, outcome, site_client

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "user", "permitted", "staff", "deactivated")
REFUSED = {"login", 401, 403, 404, 405}


def every(code, **exceptions) -> dict:
    return {role: exceptions.get(role, code) for role in ROLES}


OPEN = {"GET": every(200)}
POST_ONLY = every(405)
# A private leaderboard exists only for staff and holders of rankings.view_private_leaderboard.
PRIVATE = {"GET": every(404, staff=200)}


@dataclass(frozen=True)
class Case:
    url: Callable[[World], str]
    expected: dict  # method -> {role: outcome}
    data: Callable[[World], dict] = field(default=lambda w: {})
    writes: bool = False  # whether a successful POST stores something


def page(name: str, *args: Callable[[World], object]) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[arg(w) for arg in args])


SITE = {
    "home": [Case(page("home"), OPEN)],
    "evaluations:model": [Case(page("evaluations:model", lambda w: w.checkpoint.training.model_id), OPEN)],
    # The model page with results: the rankings view answers evaluations:model's address (leaderboard_site/urls.py).
    "models/<int:pk>/": [Case(lambda w: f"/models/{w.checkpoint.training.model_id}/", OPEN)],
    "evaluations:benchmarks": [Case(page("evaluations:benchmarks"), OPEN)],
    "evaluations:benchmark": [Case(page("evaluations:benchmark", lambda w: w.benchmark.pk), OPEN)],
    "evaluations:coverage": [Case(page("evaluations:coverage"), OPEN)],
    "evaluations:coverage_request": [
        Case(
            page("evaluations:coverage_request"),
            {"GET": POST_ONLY, "POST": every(403, anonymous="login", deactivated="login", permitted=302)},
            data=lambda w: {"checkpoint": [w.checkpoint.pk], "benchmark": [w.missing.pk]},
            writes=True,
        )
    ],
    "evaluations:request": [
        Case(
            page("evaluations:request"),
            {
                "GET": every(403, anonymous="login", deactivated="login", permitted=200),
                "POST": every(403, anonymous="login", deactivated="login", permitted=302),
            },
            data=lambda w: {"checkpoint": w.checkpoint.pk, "benchmarks": [w.missing.pk]},
            writes=True,
        )
    ],
    "evaluations:queue": [Case(page("evaluations:queue"), OPEN)],
    "evaluations:cancel": [
        Case(
            page("evaluations:cancel", lambda w: w.pending.pk),
            # Staff may cancel without the permission (evaluations.pages.queue.can_cancel).
            {"GET": POST_ONLY, "POST": every(403, anonymous="login", deactivated="login", permitted=302, staff=302)},
            writes=True,
        )
    ],
    "rankings:leaderboards": [Case(page("rankings:leaderboards"), OPEN)],
    "rankings:leaderboard": [
        Case(page("rankings:leaderboard", lambda w: w.board.slug), OPEN),
        Case(page("rankings:leaderboard", lambda w: w.private_board.slug), PRIVATE),
    ],
    "rankings:ranking": [Case(lambda w: f"{reverse('rankings:ranking')}?metric={w.metric.pk}", OPEN)],
    "rankings:across": [Case(page("rankings:across"), OPEN)],
    "rankings:progress": [
        Case(page("rankings:progress", lambda w: w.board.slug), OPEN),
        Case(page("rankings:progress", lambda w: w.private_board.slug), PRIVATE),
    ],
    "rankings:docs": [Case(page("rankings:docs"), OPEN)],
    "rankings:pareto": [Case(lambda w: f"{reverse('rankings:pareto')}?metric={w.metric.pk}", OPEN)],
    "rankings:leaderboard_pareto": [
        Case(page("rankings:leaderboard_pareto", lambda w: w.board.slug), OPEN),
        Case(page("rankings:leaderboard_pareto", lambda w: w.private_board.slug), PRIVATE),
    ],
    "rankings:training": [Case(page("rankings:training", lambda w: w.checkpoint.training_id), OPEN)],
    "rankings:select_deployment": [
        Case(
            page("rankings:select_deployment", lambda w: w.checkpoint.pk),
            {"GET": POST_ONLY, "POST": every(403, anonymous="login", deactivated="login", permitted=302)},
            data=lambda w: {"reason": "best on ARC"},
            writes=True,
        )
    ],
    "rankings:checkpoint": [Case(page("rankings:checkpoint", lambda w: w.checkpoint.pk), OPEN)],
    "rankings:compare": [
        Case(
            lambda w: (
                f"{reverse('rankings:compare')}?checkpoint={w.checkpoint.pk}&checkpoint={w.running.checkpoint_id}"
            ),
            OPEN,
        )
    ],
    # A wrong password: the form comes back, nothing is stored.
    "login": [
        Case(page("login"), {"GET": every(200), "POST": every(200)}, data=lambda w: {"username": "x", "password": "y"})
    ],
    "logout": [Case(page("logout"), {"GET": every(405), "POST": every(302)})],
    # Browsers ask for it on every page; it points at the static icon.
    "favicon.ico": [Case(lambda w: "/favicon.ico", {"GET": every(301)})],
    # For load balancers: public, read-only.
    "healthz": [Case(page("healthz"), {"GET": every(200), "POST": every(405)})],
}

CASES = [
    pytest.param(name, index, method, id=f"{name}[{index}] {method}")
    for name, cases in SITE.items()
    for index, case in enumerate(cases)
    for method in case.expected
]


@pytest.mark.parametrize(("name", "index", "method"), CASES)
def test_each_role_gets_the_expected_answer_and_refusals_write_nothing(world, name, index, method):
    case = SITE[name][index]
    url, data = case.url(world), case.data(world)
    results = {}
    for role in ROLES:
        client = site_client(role)
        send = getattr(client, method.lower())
        response, wrote = attempt(lambda: send(url, data) if method == "POST" else send(url))  # noqa: B023
        results[role] = (outcome(response), wrote)
    assert {role: code for role, (code, _) in results.items()} == case.expected[method]
    assert [role for role, (code, wrote) in results.items() if code in REFUSED and wrote] == []
    if case.writes and method == "POST":
        assert {role for role, (code, wrote) in results.items() if wrote} == {
            role for role, code in case.expected[method].items() if code not in REFUSED
        }


def test_a_user_with_the_permission_sees_private_leaderboards(world, client):
    from tests import factories

    client.force_login(factories.user(perms=("rankings.view_private_leaderboard",)))
    assert client.get(reverse("rankings:leaderboard", args=["secret"])).status_code == 200
    assert client.get(reverse("rankings:progress", args=["secret"])).status_code == 200
