"""Production serving in-process: /healthz, security headers and CSP, the API docs under CSP, JSON logs, caches."""

import json
import logging
import re
import socket
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError
from django.test import RequestFactory

from leaderboard_site import health
from leaderboard_site.logging import JsonFormatter
from leaderboard_site.settings import cache_from_env

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def csp_directives(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


class UnreachableDatabase:
    def cursor(self):
        raise OperationalError("connection refused")


# /healthz


@pytest.mark.django_db
def test_healthz_answers_ok_when_the_database_and_the_cache_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_database_when_it_is_down(client, monkeypatch, caplog):
    monkeypatch.setattr(health, "connection", UnreachableDatabase())

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error", "cache": "ok"}
    assert "no-store" in response["Cache-Control"]
    assert "connection refused" in caplog.text


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_cache_when_redis_is_unreachable(client, settings):
    settings.CACHES = {"default": cache_from_env({"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"})}

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "cache": "error"}


@pytest.mark.django_db
def test_healthz_is_exempt_from_the_https_redirect_that_covers_every_other_page(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301


@pytest.mark.django_db
def test_healthz_answers_head_and_refuses_post(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


# Security headers and the Content Security Policy


@pytest.mark.django_db
def test_an_html_page_carries_the_csp_and_the_security_headers(client):
    response = client.get("/")

    assert response.status_code == 200
    policy = csp_directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_no_template_has_inline_scripts_event_handlers_or_style_attributes():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    handler_or_style = re.compile(r"""\s(on[a-z]+|style)\s*=\s*["']""", re.IGNORECASE)
    found = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        found += [f"{template.name}: {match.group()}" for match in inline_script.finditer(text)]
        found += [f"{template.name}: {match.group().strip()}" for match in handler_or_style.finditer(text)]
        found += [f"{template.name}: javascript: URL" for _ in re.finditer(r"javascript:", text)]
    assert found == []


def script_tags(html: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", html)


def test_swagger_ui_loads_its_start_up_script_from_a_url_under_the_csp(client):
    page = client.get("/api/docs/")
    html = page.content.decode()

    assert page.status_code == 200
    tags = script_tags(html)
    assert tags
    assert all("src=" in tag for tag in tags)
    start_up = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', html).group(1)
    script = client.get(start_up.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
    assert csp_directives(page["Content-Security-Policy"])["script-src"] == ["'self'"]


def test_redoc_runs_under_the_csp_with_its_search_worker_and_no_external_fonts(client):
    page = client.get("/api/redoc/")
    html = page.content.decode()

    assert page.status_code == 200
    assert all("src=" in tag for tag in script_tags(html))
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in html
    assert "fonts.googleapis.com" not in html
    policy = csp_directives(page["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["worker-src"] == ["'self'", "blob:"]


# Structured logs


def log_line(record: logging.LogRecord) -> dict:
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def test_a_json_log_line_carries_time_level_logger_message_and_the_request():
    request = RequestFactory().get("/leaderboards/main/", {"page": "2"})
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/x",), None)
    record.request = request
    record.status_code = 404

    entry = log_line(record)

    assert entry["level"] == "WARNING"
    assert entry["logger"] == "django.request"
    assert entry["message"] == "Not Found: /x"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/leaderboards/main/", 404)


def test_a_json_log_line_carries_the_exception_and_the_extras():
    try:
        raise ValueError("bad value\non two lines")
    except ValueError:
        record = logging.LogRecord("evaluations", logging.ERROR, __file__, 1, "Import failed", (), sys.exc_info())
    record.file = Path("results.json")
    record.rows = 3

    entry = log_line(record)

    assert entry["message"] == "Import failed"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert "ValueError: bad value\non two lines" in entry["exception"]
    assert (entry["file"], entry["rows"]) == ("results.json", 3)


def test_a_gunicorn_access_line_becomes_request_fields():
    atoms = {"m": "GET", "U": "/healthz", "q": "", "s": "200", "M": 12, "B": 49, "h": "10.0.0.5", "a": 'curl "x"'}
    atoms["a"] = atoms["a"].replace('"', '\\"')  # as gunicorn's SafeAtoms hands them over
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(m)s %(U)s", atoms, None)

    entry = log_line(record)

    assert entry["message"] == "GET /healthz"
    assert entry["method"] == "GET"
    assert entry["path"] == "/healthz"
    assert entry["status"] == 200
    assert entry["duration_ms"] == 12
    assert entry["bytes"] == 49
    assert entry["remote_addr"] == "10.0.0.5"
    assert entry["user_agent"] == 'curl "x"'
    assert "query" not in entry


# The cache from the environment


def test_without_a_cache_url_each_process_caches_in_local_memory():
    assert cache_from_env({}) == {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    assert cache_from_env({"CACHE_URL": "locmem://"})["BACKEND"].endswith("LocMemCache")


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ("REDIS_URL", "rediss://:secret@cache.example.com:6380/2"),
        ("CACHE_URL", "redis://cache.example.com"),
        ("CACHE_URL", "unix:///run/redis/redis.sock?db=1"),
    ],
)
def test_a_redis_url_selects_djangos_redis_cache(name, url):
    config = cache_from_env({name: url, "CACHE_KEY_PREFIX": "leaderboard"})

    assert config["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert config["LOCATION"] == url
    assert config["KEY_PREFIX"] == "leaderboard"


@pytest.mark.parametrize(
    "url",
    [
        "memcached://127.0.0.1:11211",
        "127.0.0.1:6379",
        "redis://:secret@cache.example.com:port/0",
        "redis:///0",
        "redis://127.0.0.1:6379/cache",
        "unix://",
    ],
)
def test_a_cache_url_that_is_not_a_redis_url_is_refused_without_echoing_it(url):
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL must be a Redis URL") as refused:
        cache_from_env({"REDIS_URL": url})

    assert "secret" not in str(refused.value)


def test_setting_both_redis_url_and_cache_url_is_refused():
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL or CACHE_URL, not both"):
        cache_from_env({"REDIS_URL": "redis://a:6379/0", "CACHE_URL": "redis://b:6379/0"})


def redis_is_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_is_running(), reason="no Redis on 127.0.0.1:6379")
@pytest.mark.django_db
def test_healthz_answers_ok_with_a_running_redis(client, settings):
    settings.CACHES = {"default": cache_from_env({"REDIS_URL": "redis://127.0.0.1:6379/0", "CACHE_KEY_PREFIX": "t"})}

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["cache"] == "ok"
