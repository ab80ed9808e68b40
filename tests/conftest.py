import os
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, settings

# Property tests: CI explores more cases than a developer's `make test`; both are derandomized, so a run is
# repeatable. HYPOTHESIS_PROFILE picks one explicitly.
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    parent=settings.get_profile("ci"),
    max_examples=40,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


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


@pytest.fixture(scope="module")
def demo_data(django_db_setup, django_db_blocker) -> str:
    """The Pythia demo data, loaded once for a module's tests; returns what `load_demo` printed.

    It is loaded in a transaction that each test's own transaction nests in, and rolled back after the module:
    several seconds faster than deleting 4,752 evaluations with their scores row by row.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        call_command("load_demo", "--no-progress", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)
