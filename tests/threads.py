"""Calls run at the same moment, for tests of concurrent requests (PostgreSQL: real connections)."""

import threading
from collections.abc import Callable

from django.db import connections


def at_once(*calls: Callable[[], object]) -> list:
    """Run the calls in threads released together, each with its own database connection; returns their results."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = []

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = calls[index]()
        except Exception as error:  # reported below: an exception in a thread would otherwise vanish
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results
