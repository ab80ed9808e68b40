"""CSRF: every form that posts carries the token, every POST without it is refused and writes nothing; the API's
token writes need no token, session-authenticated API requests do."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests import factories

from .conftest import SITE_PERMS, attempt, site_client
from .test_site_permissions import SITE
from .writes import write

pytestmark = pytest.mark.django_db

# name -> (role, page showing the form, url posted to, data): posts that would succeed with the token.
POSTS = {
    "login": ("anonymous", lambda w: "/accounts/login/", lambda w: "/accounts/login/", lambda w: {"username": "ada"}),
    "logout": ("permitted", lambda w: "/", lambda w: "/accounts/logout/", lambda w: {}),
    "coverage request": (
        "permitted",
        lambda w: reverse("evaluations:coverage"),
        lambda w: reverse("evaluations:coverage_request"),
        lambda w: {"checkpoint": [w.checkpoint.pk], "benchmark": [w.missing.pk]},
    ),
    "request evaluations": (
        "permitted",
        lambda w: reverse("evaluations:request"),
        lambda w: reverse("evaluations:request"),
        lambda w: {"checkpoint": w.checkpoint.pk, "benchmarks": [w.missing.pk]},
    ),
    "cancel": (
        "permitted",
        lambda w: reverse("evaluations:queue"),
        lambda w: reverse("evaluations:cancel", args=[w.pending.pk]),
        lambda w: {},
    ),
    "deployment": (
        "permitted",
        lambda w: w.checkpoint.training.get_absolute_url(),
        lambda w: reverse("rankings:select_deployment", args=[w.checkpoint.pk]),
        lambda w: {"reason": "best"},
    ),
    "admin login": ("anonymous", lambda w: "/admin/login/", lambda w: "/admin/login/", lambda w: {"username": "ada"}),
    "admin add": (
        "superuser",
        lambda w: reverse("admin:evaluations_tag_add"),
        lambda w: reverse("admin:evaluations_tag_add"),
        lambda w: {"name": "new-tag"},
    ),
}


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user("ada", password="a-long-test-password", is_staff=True)


@pytest.mark.parametrize("name", POSTS)
def test_a_post_without_the_token_is_refused_and_writes_nothing_and_with_it_goes_through(world, ada, name):
    role, form_page, target, data = POSTS[name]
    client = site_client(role, enforce_csrf=True)
    url, body = target(world), data(world)
    if name.endswith("login"):
        body["password"] = "a-long-test-password"
    signed_in = "_auth_user_id" in client.session

    refused, wrote = attempt(lambda: client.post(url, body))
    assert (refused.status_code, wrote) == (403, False)
    assert "CSRF" in refused.content.decode()
    assert ("_auth_user_id" in client.session) == signed_in  # neither signed in nor out

    client.get(form_page(world))
    accepted = client.post(url, body | {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert accepted.status_code == 302


class PostForms(HTMLParser):
    """Counts the forms that post, and those of them holding a CSRF token."""

    def __init__(self):
        super().__init__()
        self.posting, self.with_token, self._inside = 0, 0, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.posting += 1
            self._inside = True
        elif tag == "input" and self._inside and attrs.get("name") == "csrfmiddlewaretoken":
            self.with_token += 1
            self._inside = False

    def handle_endtag(self, tag):
        if tag == "form":
            self._inside = False


def get_pages(world) -> list[str]:
    return [case.url(world) for cases in SITE.values() for case in cases if "GET" in case.expected]


@pytest.mark.parametrize("role", ["anonymous", "permitted", "superuser"])
def test_every_form_that_posts_carries_the_token(world, role):
    client = site_client(role)
    pages = get_pages(world) + [reverse("admin:index"), reverse("admin:evaluations_benchmark_add"), "/admin/login/"]
    seen = 0
    for url in pages:
        response = client.get(url)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        forms = PostForms()
        forms.feed(response.content.decode())
        assert forms.with_token == forms.posting, url
        seen += forms.posting
    assert seen >= {"anonymous": 1, "permitted": 6, "superuser": 3}[role]


# The API


def test_token_writes_need_no_csrf_token(world):
    _, key = factories.api_token(owner=factories.user(perms=SITE_PERMS))
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    url, body = write("api:results", world)
    assert client.post(url, body, format="json").status_code == 201


@pytest.mark.parametrize("name", ["api:results", "api:evaluation-list", "api:evaluation-claim", "api:import-lm-eval"])
def test_session_writes_need_the_csrf_token_and_are_then_refused_for_want_of_an_api_token(world, name):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(factories.user(perms=SITE_PERMS, is_staff=True))
    url, body = write(name, world)

    response, wrote = attempt(lambda: client.post(url, body, format="json"))
    assert (response.status_code, wrote) == (403, False)
    assert response.json()["detail"].startswith("CSRF Failed")

    client.get("/")  # a page that hands out the CSRF cookie
    token = client.cookies["csrftoken"].value
    response, wrote = attempt(lambda: client.post(url, body, format="json", HTTP_X_CSRFTOKEN=token))
    assert (response.status_code, wrote) == (403, False)
    assert "Writes need an API token" in response.json()["detail"]
