"""Faults on demand: the database lost in the middle of a request, and calls made at the same moment."""

from collections.abc import Callable

import pytest
from django.db import OperationalError, connection, connections

ON_POSTGRESQL = connection.vendor == "postgresql"


def terminate_own_backend() -> None:
    """Kill the server process behind this thread's connection, from a second connection, as a restart would."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            # With a timeout (ms) the call returns once the process has exited, not when it was only signalled.
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            assert cursor.fetchone() == (True,)
    finally:
        other.close()


@pytest.fixture
def lose_database(monkeypatch):
    """`lose_database(owner, "name", on_call=n)`: the database goes away during the n-th call of `owner.name`.

    On PostgreSQL the request's own server process is terminated, then the call goes on and meets the dead
    connection, as after a restart. SQLite has no server to lose: the call raises the OperationalError a lost
    connection raises. The call returns what `observe()`, if given, saw just before the loss.
    """

    def arm(owner, name: str, *, on_call: int = 1, observe: Callable[[], object] | None = None) -> list:
        original = getattr(owner, name)
        calls = 0
        seen: list = []

        def losing(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == on_call:
                if observe is not None:
                    seen.append(observe())
                if ON_POSTGRESQL:
                    terminate_own_backend()
                else:
                    raise OperationalError("simulated: the connection to the database was lost")
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, losing)
        return seen

    return arm
