import os

import pytest


@pytest.fixture(scope="module", autouse=True)
def allow_orm_calls_beside_playwright():
    """Playwright's sync API runs an event loop in the test thread; the tests' own ORM calls there stay synchronous.

    Set only while the browser tests run, so no other test (or subprocess it starts) inherits it.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
