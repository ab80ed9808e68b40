"""Every URL of the project has a row in a permission matrix: a new page or endpoint without one fails here."""

from django.urls import URLPattern, URLResolver, get_resolver

from .test_api_permissions import API
from .test_site_permissions import SITE


def routes(patterns=None, prefix: str = "", namespace: str = ""):
    """(key, route) for every URL pattern: the key is the namespaced name, or the route for an unnamed pattern."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from routes(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}{pattern.name}" if pattern.name else route), route


def test_every_route_has_a_matrix_entry():
    # The admin's URLs are enumerated by test_admin_permissions itself, so its matrix never misses one.
    found = {key for key, route in routes() if not route.startswith("admin/")}
    assert found - (SITE.keys() | API.keys()) == set(), "routes without a row in the permission matrix"
    assert (SITE.keys() | API.keys()) - found == set(), "matrix rows for routes that no longer exist"


def test_site_and_api_are_told_apart_by_their_prefix():
    assert all(key.startswith("api") for key in API)
    assert not any(key.startswith("api") for key in SITE)
