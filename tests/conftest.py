import pytest
from django.core.cache import cache


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "a-long-test-password")
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _empty_cache():
    # Rendered rankings, version stamps and throttle counts live in the cache: each test starts with none.
    cache.clear()
    yield
    cache.clear()
