"""Hostile query strings and paths: SQL-like text, huge and negative numbers, NUL bytes, odd unicode and long text in
every filter, sort and page parameter of every page and API list, and huge ids in every address. Never a 500, never
a leak of SQL or a traceback, never a write."""

from urllib.parse import urlencode, urlsplit

import pytest
from django.urls import resolve, reverse

from .conftest import World, api_client, site_client, snapshot
from .test_api_permissions import API
from .test_site_permissions import SITE

pytestmark = pytest.mark.django_db

HOSTILE = [
    "' OR 1=1 --",
    "1; DROP TABLE evaluations_evaluation; --",
    "1 UNION SELECT password FROM auth_user",
    str(10**30),
    str(2**63),
    "-1",
    str(-(2**63) - 1),
    "1e309",
    "NaN",
    "0.5",
    "\x00",
    "a\x00b",
    "\u202egnp.exe",  # right-to-left override
    "🔥💯",
    "e\u0301\u0301\u0301",  # combining accents
    "%_\\",
    "a" * 5000,
    "",
]
# Signs of an internal error shown to the client (the hostile values themselves may be echoed back, escaped).
LEAKS = ["Traceback", "DataError", "OperationalError", "ProgrammingError", "IntegrityError", "psycopg", "sqlite3"]
LEAKS += ["site-packages", 'FROM "', "django.db"]

# Each page's query parameters (what its forms, filters, tables and paginators read).
RANKING = ["metric", "method", "best_only", "missing", "ties", "q", "model", "training", "tag", "category"]
RANKING += ["evaluated_after", "evaluated_before", "sort", "page", "per_page", "_export", "weight_1", "columns", "pin"]
PARAMS = {
    "rankings:leaderboard": RANKING,
    "rankings:ranking": RANKING,
    "rankings:across": RANKING,
    "rankings:pareto": [*RANKING, "x", "colour_by"],
    "rankings:leaderboard_pareto": [*RANKING, "x", "colour_by"],
    "evaluations:coverage": ["model", "training", "latest_only", "category", "include_inactive", "page", "columns"],
    "evaluations:queue": ["status", "benchmark", "model", "source", "mine", "sort", "page", "per_page"],
    "rankings:compare": ["checkpoint", "training", "leaderboard"],
    "rankings:training": ["metric", "overlay", "steps", "smooth", "colour_by", "overlay_training"],
    "evaluations:request": ["checkpoint", "benchmark", "training"],
    "evaluations:benchmark": ["page"],
    "login": ["next"],
}
# The API: each list's filters are found from its view; the rankings read the pages' parameters.
API_PAGING = ["ordering", "page", "page_size"]
API_EXTRA = {"api:leaderboard-rows": RANKING, "api:rankings": RANKING}


def with_params(url: str, params: dict) -> str:
    """The URL with `params` added to the query string it may already have."""
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def check(response, url: str) -> None:
    assert response.status_code < 500, url
    assert response.status_code in (200, 400, 404), (url, response.status_code)
    text = response.content.decode(errors="replace")
    assert [leak for leak in LEAKS if leak in text] == [], url


def site_pages(w: World) -> list[tuple[str, str]]:
    return [
        (name, case.url(w))
        for name, cases in SITE.items()
        for case in cases
        if case.expected.get("GET", {}).get("permitted") == 200
    ]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_every_page_parameter_survives_hostile_values(world, value):
    client = site_client("permitted")
    before = snapshot()
    for name, url in site_pages(world):
        params = PARAMS.get(name, ["page"])
        for param in params:
            check(client.get(with_params(url, {param: value})), f"{url} {param}")
        check(client.get(with_params(url, dict.fromkeys(params, value))), f"{url} all")
    assert snapshot() == before


def api_reads(w: World) -> list[tuple[str, list[str]]]:
    """(url, its query parameters) for every API read a token without permissions may make."""
    reads = []
    for name, (make, methods) in API.items():
        url = make(w)
        if methods.get("GET", {}).get("user") != 200 or not url.startswith("/api/v1/"):
            continue
        view = resolve(urlsplit(url).path).func
        filterset = getattr(view.cls, "filterset_class", None)
        filters = list(filterset.base_filters) if filterset and "list" in view.actions.values() else []
        reads.append((url, filters + API_PAGING + API_EXTRA.get(name, [])))
    return reads


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_every_api_parameter_survives_hostile_values(world, value):
    client = api_client("user")
    before = snapshot()
    for url, params in api_reads(world):
        for param in params:
            response = client.get(with_params(url, {param: value}))
            check(response, f"{url} {param}")
            assert response["Content-Type"] == "application/json"
            if response.status_code == 400:  # the error names the parameter (a weight names its metric)
                errors = response.json()["errors"]
                named = {error["field"] for error in errors} | {"weight_1" for e in errors if "weight" in e["message"]}
                assert param in named, (url, param, errors)
    assert snapshot() == before


def test_nul_bytes_in_api_parameters_are_named_in_a_400(world):
    response = api_client("anonymous").get(reverse("api:checkpoint-list"), {"label": "a\x00b"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "label", "message": "NUL characters are not allowed."}]


IDS = [2**63, 2**63 - 1, 10**30, 0]
ADDRESSES = ["/models/{}/", "/benchmarks/{}/", "/trainings/{}/", "/checkpoints/{}/", "/api/v1/models/{}/"]
ADDRESSES += ["/api/v1/trainings/{}/", "/api/v1/checkpoints/{}/", "/api/v1/benchmarks/{}/", "/api/v1/evaluations/{}/"]
POSTED = ["/queue/{}/cancel/", "/trainings/deploy/{}/", "/api/v1/evaluations/{}/heartbeat/"]
POSTED += ["/api/v1/evaluations/{}/complete/", "/api/v1/evaluations/{}/fail/"]


@pytest.mark.parametrize("pk", IDS)
def test_huge_ids_in_addresses_are_404s(world, pk):
    client, api = site_client("permitted"), api_client("staff")
    before = snapshot()
    for address in ADDRESSES:
        assert client.get(address.format(pk)).status_code == 404, address
    lease = {"lease_token": "00000000-0000-0000-0000-000000000000"}
    bodies = {"heartbeat": lease, "complete": lease | {"metrics": {"acc": 1}}, "fail": lease | {"error": "x"}}
    for address in POSTED:
        sender = api if address.startswith("/api/") else client
        body = bodies.get(address.rstrip("/").rsplit("/", 1)[-1], {})
        assert sender.post(address.format(pk), body, format="json").status_code == 404, address
    assert snapshot() == before


@pytest.mark.parametrize("slug", ["a%00b", "%F0%9F%94%A5", "x" * 300, "..%2F..%2Fetc%2Fpasswd"])
def test_odd_slugs_are_404s(world, slug):
    client = site_client("anonymous")
    for address in [
        "/leaderboards/{}/",
        "/leaderboards/{}/progress/",
        "/api/v1/leaderboards/{}/",
        "/api/v1/leaderboards/{}/rows/",
    ]:
        assert client.get(address.format(slug)).status_code == 404, address


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", "/\\evil.example"]
)
def test_signing_in_never_redirects_off_the_site(django_user_model, client, target):
    django_user_model.objects.create_user("ada", password="a-long-test-password")
    response = client.post("/accounts/login/", {"username": "ada", "password": "a-long-test-password", "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/"
