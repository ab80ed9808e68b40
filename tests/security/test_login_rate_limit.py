"""Failed sign-ins are limited per client address and per username; the API's throttles answer 429 too."""

import pytest
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from accounts import views as account_views
from tests import factories
from tests.threads import at_once

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user("ada", password=PASSWORD, is_staff=True)


@pytest.fixture
def clock(monkeypatch):
    """The limiter's time, moved by hand."""
    now = [1_000_000.0]
    monkeypatch.setattr(account_views.time, "time", lambda: now[0])
    return now


def sign_in(username: str, password: str, *, address: str = "10.0.0.1", url: str = "/accounts/login/"):
    return Client(REMOTE_ADDR=address).post(url, {"username": username, "password": password})


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_the_failure_past_the_limit_is_a_429_without_checking_the_password(settings, ada, clock, url):
    settings.LOGIN_RATE_LIMIT = "3/minute"
    assert [sign_in("ada", "wrong", url=url).status_code for _ in range(3)] == [200, 200, 200]
    blocked = sign_in("ada", PASSWORD, url=url)  # the right password: not even looked at
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "60"
    assert "Too many failed sign-in attempts" in blocked.content.decode()
    assert "_auth_user_id" not in blocked.wsgi_request.session


def test_retry_after_counts_down_and_the_failures_expire(settings, ada, clock):
    settings.LOGIN_RATE_LIMIT = "2/minute"
    sign_in("ada", "wrong")
    clock[0] += 20
    sign_in("ada", "wrong")
    clock[0] += 10
    assert sign_in("ada", "wrong")["Retry-After"] == "30"  # the first failure leaves the window in 30 s
    clock[0] += 30
    assert sign_in("ada", PASSWORD).status_code == 302


def test_another_address_may_sign_in_to_another_account(settings, ada, clock):
    settings.LOGIN_RATE_LIMIT = "2/minute"
    for _ in range(2):
        sign_in("grace", "wrong", address="10.0.0.1")
    assert sign_in("grace", "wrong", address="10.0.0.1").status_code == 429
    assert sign_in("ada", PASSWORD, address="10.0.0.2").status_code == 302


def test_an_address_past_its_limit_is_refused_for_every_username(settings, ada, clock):
    settings.LOGIN_RATE_LIMIT = "2/minute"
    sign_in("grace", "wrong")
    sign_in("alan", "wrong")
    assert sign_in("ada", PASSWORD).status_code == 429
    assert sign_in("ada", PASSWORD, address="10.0.0.2").status_code == 302


def test_guessing_one_username_from_many_addresses_is_limited_too(settings, ada, clock):
    settings.LOGIN_RATE_LIMIT = "2/minute"
    sign_in("ada", "wrong", address="10.0.0.1")
    sign_in(" ADA ", "wrong", address="10.0.0.2")
    assert sign_in("ada", "wrong", address="10.0.0.3").status_code == 429


def test_a_success_forgets_the_usernames_failures_not_the_addresss(settings, ada, clock):
    settings.LOGIN_RATE_LIMIT = "3/minute"
    sign_in("ada", "wrong")
    sign_in("ada", "wrong")
    assert sign_in("ada", PASSWORD).status_code == 302
    sign_in("ada", "wrong", address="10.0.0.2")
    assert sign_in("ada", PASSWORD, address="10.0.0.2").status_code == 302  # a fresh count for ada
    assert sign_in("grace", "wrong").status_code == 200  # the address's third failure
    assert sign_in("grace", "wrong").status_code == 429


def test_the_limit_can_be_switched_off(settings, ada):
    settings.LOGIN_RATE_LIMIT = None
    assert {sign_in("ada", "wrong").status_code for _ in range(10)} == {200}


def test_the_limit_comes_from_the_environment(monkeypatch):
    from leaderboard_site.settings import env_rate

    monkeypatch.setenv("LOGIN_RATE_LIMIT", "10/hour")
    assert env_rate("LOGIN_RATE_LIMIT", "5/minute") == "10/hour"
    assert account_views.parse_rate("10/hour") == (10, 3600)
    monkeypatch.setenv("LOGIN_RATE_LIMIT", "many")
    with pytest.raises(ImproperlyConfigured):
        env_rate("LOGIN_RATE_LIMIT", "5/minute")


# The API's throttles (tests/api/test_limits.py covers anonymous clients and the rates' settings).


@pytest.fixture
def api_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/minute", "user": "5/minute"},
    }


def test_hammering_the_api_with_a_token_gets_429_with_retry_after(api_rates):
    _, key = factories.api_token()
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    statuses = [client.get("/api/v1/benchmarks/").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    response = client.get("/api/v1/benchmarks/")
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_writes_are_throttled_too(api_rates):
    _, key = factories.api_token(owner=factories.user(perms=("evaluations.add_evaluation",)))
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    statuses = [client.post("/api/v1/results/", "[]", content_type="application/json").status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]


def test_a_forged_forwarded_for_header_does_not_escape_the_anonymous_throttle(api_rates):
    statuses = [Client(HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").get("/api/v1/benchmarks/").status_code for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_behind_a_proxy_the_address_it_saw_is_counted_not_a_forged_one(settings, ada, clock):
    settings.LOGIN_RATE_LIMIT = "2/minute"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = Client(REMOTE_ADDR="10.0.0.254")  # the proxy
    for forged in ("1.1.1.1", "2.2.2.2"):
        client.post(
            "/accounts/login/", {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR=f"{forged}, 203.0.113.7"
        )
    blocked = client.post(
        "/accounts/login/", {"username": "ada", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    other = client.post(
        "/accounts/login/", {"username": "ada", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.8"
    )
    assert (blocked.status_code, other.status_code) == (429, 302)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "0 5/minute"),
        ({"BEHIND_TLS_PROXY": "true"}, "1 5/minute"),
        ({"NUM_PROXIES": "2", "LOGIN_RATE_LIMIT": "off"}, "2 None"),
    ],
)
def test_the_proxy_count_and_the_login_limit_come_from_the_environment(monkeypatch, env, expected):
    from tests.test_settings import manage

    for name in ("NUM_PROXIES", "LOGIN_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    show = "from django.conf import settings; print(settings.REST_FRAMEWORK['NUM_PROXIES'], settings.LOGIN_RATE_LIMIT)"
    result = manage("shell", "--no-imports", "-c", show, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_passwords_are_held_to_the_limit(settings, django_user_model, clock):
    settings.LOGIN_RATE_LIMIT = "5/minute"
    django_user_model.objects.create_user("ada", password=PASSWORD)
    checked = []

    def count(**kwargs):
        checked.append(kwargs["credentials"]["username"])

    user_login_failed.connect(count)
    try:
        statuses = at_once(*(lambda n=n: sign_in("ada", "wrong", address=f"10.0.1.{n}").status_code for n in range(40)))
    finally:
        user_login_failed.disconnect(count)
    assert sorted(statuses) == [200] * 5 + [429] * 35
    assert len(checked) == 5  # the other 35 passwords were never looked at
    assert sign_in("ada", PASSWORD, address="10.0.2.1").status_code == 429
    clock[0] += 60
    assert sign_in("ada", PASSWORD, address="10.0.2.1").status_code == 302
