"""The site as production runs it: collectstatic, then gunicorn with its config file, DEBUG off, on a free port."""

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG = PROJECT_DIR / "leaderboard_site" / "gunicorn.conf.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_env(tmp_path: Path, port: int) -> dict[str, str]:
    """Only what a deployment would set: nothing from the test run (its DATABASE_URL, DEBUG, …) leaks in."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "leaderboard_site.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "BEHIND_TLS_PROXY": "true",
        "LOG_FORMAT": "json",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
    }


def get(port: int, path: str, **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": "127.0.0.1", "Connection": "close", **headers})
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def wait_until_healthy(server: subprocess.Popen, port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"gunicorn exited with {server.returncode}")
        try:
            if get(port, "/healthz").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer /healthz within {timeout} s")


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """collectstatic into a temporary STATIC_ROOT, then gunicorn on a free port; stopped (SIGTERM) afterwards."""
    tmp_path = tmp_path_factory.mktemp("production")
    port = free_port()
    env = production_env(tmp_path, port)
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr
    stdout, stderr = tmp_path / "gunicorn.out", tmp_path / "gunicorn.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(CONFIG)], cwd=tmp_path, env=env, stdout=out, stderr=err
        )
    try:
        wait_until_healthy(server, port)
        yield port, tmp_path
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_gunicorn_serves_health_pages_and_hashed_static_files_in_production_mode(gunicorn):
    port, tmp_path = gunicorn
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    behind_tls = {"X-Forwarded-Proto": "https"}

    # Load balancers probe over plain HTTP; everything else is sent to HTTPS.
    health = get(port, "/healthz")
    assert health.status == 200
    assert json.loads(health.body) == {"status": "ok", "database": "ok", "cache": "ok"}
    assert get(port, "/accounts/login/").status == 301

    # Behind the TLS proxy: a page with the CSP, HSTS and a Secure cookie.
    login = get(port, "/accounts/login/", **behind_tls)
    assert login.status == 200
    assert "script-src 'self';" in login.headers["Content-Security-Policy"]
    assert login.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert login.headers["X-Frame-Options"] == "DENY"
    assert "; Secure" in login.headers["Set-Cookie"]
    assert f'href="/static/{manifest["css/site.css"]}"' in login.body.decode()

    # WhiteNoise: a hashed name is cached forever; plotly.js (from the plotly wheel) is served compressed.
    css = get(port, f"/static/{manifest['css/site.css']}", **behind_tls)
    assert css.status == 200
    assert css.body == (PROJECT_DIR / "static" / "css" / "site.css").read_bytes()
    assert "immutable" in css.headers["Cache-Control"]
    assert "max-age=315360000" in css.headers["Cache-Control"]
    gzip = {"Accept-Encoding": "gzip"}
    plotly = get(port, f"/static/{manifest['vendor/plotly/plotly.min.js']}", **behind_tls, **gzip)
    assert plotly.status == 200
    assert plotly.headers["Content-Encoding"] == "gzip"
    unhashed = get(port, "/static/css/site.css", **behind_tls)
    assert unhashed.status == 200
    assert unhashed.headers["Cache-Control"] == "max-age=60, public"
    assert get(port, "/static/css/not-there.css", **behind_tls).status == 404


def test_gunicorn_writes_one_json_object_per_access_line(gunicorn):
    port, tmp_path = gunicorn
    get(port, "/healthz?probe=1")
    time.sleep(0.2)  # the access line is written after the response

    lines = [json.loads(line) for line in (tmp_path / "gunicorn.out").read_text().splitlines()]
    access = [line for line in lines if line["logger"] == "gunicorn.access" and line.get("query") == "probe=1"]
    assert len(access) == 1
    assert access[0]["method"] == "GET"
    assert access[0]["path"] == "/healthz"
    assert access[0]["status"] == 200
    assert isinstance(access[0]["duration_ms"], int)
    errors = [json.loads(line) for line in (tmp_path / "gunicorn.err").read_text().splitlines()]
    assert any(line["message"].startswith("Listening at: http://127.0.0.1:") for line in errors)


def test_gunicorn_refuses_a_chunked_body_with_a_411_instead_of_losing_it(gunicorn):
    port, _ = gunicorn
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = iter([b'{"model": "m", ', b'"training": "t"}'])  # an iterable body is sent chunked
    headers = {"Host": "127.0.0.1", "Connection": "close", "Content-Type": "application/json"}
    headers["X-Forwarded-Proto"] = "https"
    connection.request("POST", "/api/v1/results/", body=body, headers=headers, encode_chunked=True)
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == 411
    assert answer["code"] == "length_required"
