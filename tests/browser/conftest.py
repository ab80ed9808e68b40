import os
import shutil

import pytest
from django.core.management import call_command

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


@pytest.fixture(scope="session")
def _test_database(django_db_setup, django_db_blocker):
    """pytest-django creates the test database only when a collected test asks for one, by a mark or a db fixture;
    when only browser modules run, none does, and the demo would land in the configured database itself."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        created = connection.settings_dict["NAME"] != connection.creation._get_test_db_name()
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"}) if created else None
    yield
    if created:
        with django_db_blocker.unblock():
            teardown_databases(config, verbosity=0)


@pytest.fixture(scope="module")
def demo_site(_test_database, django_db_blocker):
    """A live server over the demo data, loaded once for a module's tests: loading it costs five seconds a test.

    The tests that use it share the data, so each leaves it as it found it (or only adds what no other test reads),
    and none of them may also ask for `live_server` or `db`, which would empty the database after the first test.
    Data is committed, so the server's own connection sees it on PostgreSQL; the module ends by flushing it.
    """
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        call_command("load_demo", "--no-progress", verbosity=0)
        call_command("create_demo_leaderboards", verbosity=0)
        server = LiveServer("localhost")
        server._live_server_modified_settings.enable()
        try:
            yield server
        finally:
            server._live_server_modified_settings.disable()
            server.stop()
            call_command("flush", interactive=False, verbosity=0)
            _close_the_servers_connections()


def _close_the_servers_connections() -> None:
    """Playwright's sync API switches greenlets, and Django keeps one connection per context: the connection this
    fixture opened is not the one the tests' bodies or the session's teardown see, and left open it would stop the
    test database from being dropped at the end."""
    from django.db import connections

    connections.close_all()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()
