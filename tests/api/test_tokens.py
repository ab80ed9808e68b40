"""API tokens: shown once, stored hashed, revocable, last use recorded without a write per request."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, digest_of
from tests import factories

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"


def get_with(key: str, keyword: str = "Token"):
    return APIClient().get(MODELS, HTTP_AUTHORIZATION=f"{keyword} {key}")


def test_a_token_is_stored_as_a_hash_not_in_clear():
    token, key = factories.api_token()
    stored = ApiToken.objects.get(pk=token.pk)
    assert key.startswith(f"lbt_{stored.prefix}_")
    assert stored.digest == digest_of(key)
    assert key not in {stored.digest, stored.prefix, stored.name}


def test_a_token_authenticates_as_token_or_bearer(settings):
    settings.API_ANONYMOUS_READ = False
    _, key = factories.api_token()
    assert get_with(key).status_code == 200
    assert get_with(key, "Bearer").status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Token lbt_nope_x", "Token lbt_abcd1234_" + "x" * 43, "Token", "Token a b", "Bearer \u00e9"],
)
def test_unknown_or_malformed_tokens_get_401(header):
    response = APIClient().get(MODELS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] in {"authentication_failed", "not_authenticated"}
    assert response["WWW-Authenticate"] == "Token"


def test_a_token_with_the_right_prefix_but_wrong_secret_is_refused():
    token, key = factories.api_token()
    forged = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    assert get_with(forged).status_code == 401


def test_a_revoked_token_gets_401():
    token, key = factories.api_token()
    token.revoke()
    assert get_with(key).status_code == 401


def test_a_token_of_an_inactive_user_gets_401():
    token, key = factories.api_token()
    token.user.is_active = False
    token.user.save()
    assert get_with(key).status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute():
    token, key = factories.api_token()
    assert get_with(key).status_code == 200
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    assert get_with(key).status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    assert get_with(key).status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first - timedelta(seconds=1)


def test_the_command_prints_the_key_once_and_stores_its_hash():
    owner = factories.user(username="ci")
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "ci", "--name", "nightly", stdout=out, stderr=err)
    key = out.getvalue().strip()
    token = ApiToken.objects.get(user=owner)
    assert token.name == "nightly"
    assert token.digest == digest_of(key)
    assert "will not be shown again" in err.getvalue()
    assert get_with(key).status_code == 200


def test_the_command_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="No user named"):
        call_command("create_api_token", "ghost", stdout=StringIO(), stderr=StringIO())


def test_the_admin_shows_a_new_key_once_and_keeps_only_its_hash(staff_client):
    owner = factories.user(username="script")
    response = staff_client.post(
        reverse("admin:accounts_apitoken_add"), {"user": owner.pk, "name": "uploader"}, follow=True
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(user=owner)
    [message] = [str(m) for m in response.context["messages"] if "API token is" in str(m)]
    key = message.split("The new API token is ")[1].split(" ")[0]
    assert token.digest == digest_of(key)
    page = staff_client.get(reverse("admin:accounts_apitoken_change", args=[token.pk])).content.decode()
    assert key not in page
    assert token.digest not in page


def test_the_admin_action_revokes_tokens(staff_client):
    token, key = factories.api_token()
    response = staff_client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert ApiToken.objects.get(pk=token.pk).revoked_at <= timezone.now()
    assert get_with(key).status_code == 401
