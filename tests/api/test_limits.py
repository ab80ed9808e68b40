"""Throttling for anonymous and authenticated clients, configurable; errors answered in JSON."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    def set_rates(anon: str | None, user: str | None) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": anon, "user": user}}

    return set_rates


def test_anonymous_clients_are_throttled_with_a_json_429(anonymous, rates):
    rates("2/minute", "100/minute")
    assert [anonymous.get("/api/v1/models/").status_code for _ in range(3)] == [200, 200, 429]
    response = anonymous.get("/api/v1/models/")
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_token_clients_have_their_own_rate(anonymous, reader, rates):
    rates("1/minute", "3/minute")
    assert [reader.get("/api/v1/models/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert anonymous.get("/api/v1/models/").status_code == 200


def test_throttling_can_be_switched_off(anonymous, rates):
    rates(None, None)
    assert {anonymous.get("/api/v1/models/").status_code for _ in range(20)} == {200}


def test_the_rate_settings_come_from_the_environment(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from leaderboard_site.settings import env_rate

    monkeypatch.setenv("API_THROTTLE_ANON", "30/hour")
    assert env_rate("API_THROTTLE_ANON", "1/minute") == "30/hour"
    monkeypatch.setenv("API_THROTTLE_ANON", "off")
    assert env_rate("API_THROTTLE_ANON", "1/minute") is None
    monkeypatch.setenv("API_THROTTLE_ANON", "lots")
    with pytest.raises(ImproperlyConfigured):
        env_rate("API_THROTTLE_ANON", "1/minute")
