"""The admin is for staff only: every admin URL, found from the resolver, sends everyone else to the admin's sign-in
page and writes nothing; staff without permissions reach the index but no model; superusers reach everything."""

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, reverse

from accounts.models import ApiToken
from evaluations.models import Metric
from rankings.models import DeploymentSelection
from tests import factories

from .conftest import attempt, outcome, site_client

pytestmark = pytest.mark.django_db

OUTSIDERS = ("anonymous", "user", "permitted", "deactivated")
MODEL_PAGES = ("changelist", "add", "change", "delete", "history")
# Kind of admin page: (what staff without permissions get, what a superuser gets) on GET.
STAFF_GETS = {
    "index": (200, 200),
    "login": (302, 302),  # already signed in: on to the index
    "logout": (405, 405),  # POST only
    "password_change": (200, 200),
    "password_change_done": (200, 200),
    "autocomplete": (403, 403),  # without its parameters
    "jsi18n": (200, 200),
    "view_on_site": (302, 302),
    "app_list": (404, 200),  # an app with nothing the user may see does not exist for them
    "catch_all": (404, 404),
    "object": (302, 302),  # /admin/<app>/<model>/<id>/ redirects to the change page
    **dict.fromkeys(MODEL_PAGES, (403, 200)),
}


def admin_routes() -> list[tuple[str, str, type | None]]:
    """(kind, pattern, model) for every URL pattern of the admin site."""
    routes = []
    for pattern in admin.site.get_urls():
        if isinstance(pattern, URLPattern):
            name = pattern.name or ("catch_all" if "(?P<url>" in str(pattern.pattern) else None)
            routes.append((name, str(pattern.pattern), None))
    for model, model_admin in admin.site._registry.items():
        for pattern in model_admin.urls:
            kind = pattern.name.rsplit("_", 1)[1] if pattern.name else "object"
            routes.append((kind, f"{model._meta.app_label}/{model._meta.model_name}/{pattern.pattern}", model))
    return routes


ROUTES = admin_routes()


def test_every_admin_pattern_has_a_kind():
    assert {kind for kind, _, _ in ROUTES} == set(STAFF_GETS)
    assert len(ROUTES) > 50


def url_of(kind: str, model: type | None, world) -> str:
    if kind == "app_list":
        return reverse("admin:app_list", args=["evaluations"])
    if kind == "catch_all":
        return "/admin/nothing/here/"
    if kind == "view_on_site":
        return reverse(
            "admin:view_on_site", args=[ContentType.objects.get_for_model(world.checkpoint).pk, world.checkpoint.pk]
        )
    if model is None:
        return reverse(f"admin:{kind}")
    instance = model._default_manager.order_by("pk").first() or make(model, world)
    info = f"{model._meta.app_label}_{model._meta.model_name}"
    if kind in ("changelist", "add"):
        return reverse(f"admin:{info}_{kind}")
    if kind == "object":
        return f"/admin/{model._meta.app_label}/{model._meta.model_name}/{instance.pk}/"
    return reverse(f"admin:{info}_{kind}", args=[instance.pk])


def make(model: type, world):
    if model is ApiToken:
        return factories.api_token()[0]
    if model is DeploymentSelection:
        return DeploymentSelection.select(world.checkpoint, reason="chosen")
    return model._default_manager.create(name="group")  # auth.Group


def expected_get(kind: str, role: str, model: type | None):
    if role in OUTSIDERS:
        # The admin's logout sends outsiders to the admin index, which sends them to its sign-in page.
        return {"login": 200, "logout": 302}.get(kind, "admin-login")
    staff, superuser = STAFF_GETS[kind]
    if role == "superuser" and (model, kind) == (Metric, "delete"):
        return 403  # metrics are deleted on their benchmark's page
    return superuser if role == "superuser" else staff


@pytest.mark.parametrize(("kind", "pattern", "model"), ROUTES, ids=[f"{k} {p}" for k, p, _ in ROUTES])
def test_only_staff_reach_the_admin(world, kind, pattern, model):
    roles = (*OUTSIDERS, "staff", "superuser")
    clients = {role: site_client(role) for role in roles}
    url = url_of(kind, model, world)
    got = {}
    for role, client in clients.items():
        response, wrote = attempt(lambda: client.get(url))  # noqa: B023
        got[role] = outcome(response)
        assert not wrote, (role, url)
    assert got == {role: expected_get(kind, role, model) for role in roles}


WRITES = [(kind, pattern, model) for kind, pattern, model in ROUTES if kind in ("add", "change", "delete")]


@pytest.mark.parametrize(("kind", "pattern", "model"), WRITES, ids=[f"{k} {p}" for k, p, _ in WRITES])
def test_admin_writes_by_anyone_but_permitted_staff_are_refused_and_change_nothing(world, kind, pattern, model):
    clients = {role: site_client(role) for role in (*OUTSIDERS, "staff")}
    url = url_of(kind, model, world)
    # Enough to change or delete if the request were admitted.
    data = {"post": "yes", "name": "hacked", "slug": "hacked", "username": "hacked"}
    for role, client in clients.items():
        response, wrote = attempt(lambda: client.post(url, data))  # noqa: B023
        assert (outcome(response), wrote) == (403 if role == "staff" else "admin-login", False), (role, url)
