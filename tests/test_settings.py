"""Settings come from the environment: a bad value stops the program with a message naming the variable."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Everything settings.py reads, removed so that each test states the whole environment it means.
SETTINGS_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "CONN_MAX_AGE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "BEHIND_TLS_PROXY",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "REDIS_URL",
    "CACHE_URL",
    "CACHE_KEY_PREFIX",
    "STATIC_ROOT",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE (set by the browser tests) would fail the deployment checks.
    ignored = {*SETTINGS_VARIABLES, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment = {name: value for name, value in os.environ.items() if name not in ignored}
    environment["DJANGO_SETTINGS_MODULE"] = "leaderboard_site.settings"
    # Keeps the checks away from the developer's own db.sqlite3.
    environment["DATABASE_URL"] = "sqlite:///:memory:"
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_refused(result: subprocess.CompletedProcess, variable: str) -> None:
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured:"), result.stderr
    assert variable in last_line


@pytest.mark.parametrize("value", ["maybe", "2", "True!"])
def test_a_debug_value_that_is_not_a_boolean_is_refused(value):
    assert_refused(manage("check", DEBUG=value), "DEBUG")


@pytest.mark.parametrize(
    "url",
    ["mysql://user@localhost/leaderboard", "garbage", "postgres://user@localhost:port/leaderboard"],
)
def test_a_database_url_that_is_not_sqlite_or_postgresql_is_refused(url):
    assert_refused(manage("check", DATABASE_URL=url), "DATABASE_URL")


def test_a_csrf_trusted_origin_without_a_scheme_is_refused():
    assert_refused(manage("check", CSRF_TRUSTED_ORIGINS="https://ok.example.com,example.com"), "CSRF_TRUSTED_ORIGINS")


def test_a_connection_age_that_is_not_a_number_is_refused():
    assert_refused(manage("check", CONN_MAX_AGE="forever"), "CONN_MAX_AGE")


def test_a_cache_url_that_is_not_a_redis_url_is_refused():
    assert_refused(manage("check", REDIS_URL="memcached://127.0.0.1:11211"), "REDIS_URL")


@pytest.mark.parametrize(("variable", "value"), [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "LOUD")])
def test_a_log_setting_with_an_unknown_value_is_refused(variable, value):
    assert_refused(manage("check", **{variable: value}), variable)


def test_a_missing_secret_key_is_refused_when_debug_is_off():
    assert_refused(manage("check", DEBUG="false", ALLOWED_HOSTS="example.com"), "SECRET_KEY")


def test_defaults_pass_the_system_checks_for_local_development():
    result = manage("check")

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_production_configuration_passes_the_deployment_checks():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="example.com",
        DATABASE_URL="postgres://leaderboard@db.example.com:5432/leaderboard",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_production_configuration_with_redis_passes_the_deployment_checks():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="leaderboard.example.com",
        DATABASE_URL="postgres://leaderboard@db.example.com:5432/leaderboard",
        REDIS_URL="redis://cache.example.com:6379/0",
        BEHIND_TLS_PROXY="true",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


PRINT_SETTINGS = (
    "from django.conf import settings; "
    "print(settings.DATABASES['default']['CONN_MAX_AGE'], settings.LOGGING['handlers']['console']['formatter'])"
)


@pytest.mark.parametrize(
    ("debug", "expected"),
    [("true", "0 text"), ("false", "60 json")],
)
def test_production_keeps_database_connections_and_logs_json_by_default(debug, expected):
    result = manage("shell", "--no-imports", "-c", PRINT_SETTINGS, DEBUG=debug, SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
