"""Timing the site's pages and API in-process (server time, no network), and the raw SQL behind them.

Each scenario is requested a few times to warm up, then `repeat` times; medians and 95th percentiles are reported.
The SQL a request runs against the read models is captured as it reaches the driver, and then executed alone with
the same parameters, so the cost of Django, the ORM and rendering shows as a ratio to the query itself.
"""

import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection
from django.test import Client

from evaluations.api import permissions

READ_MODEL_TABLE = "evaluations_currentscore"


@dataclass
class Timing:
    name: str
    group: str
    samples: list[float] = field(default_factory=list)  # milliseconds
    raw_sql: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def raw_median(self) -> float | None:
        return statistics.median(self.raw_sql) if self.raw_sql else None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "group": self.group,
            "median_ms": round(self.median, 2),
            "p95_ms": round(self.p95, 2),
            "runs": len(self.samples),
            "raw_sql_median_ms": None if self.raw_median is None else round(self.raw_median, 2),
            "note": self.note,
        }


def timed(fn: Callable[[], object], *, warmup: int, repeat: int) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@contextmanager
def unthrottled():
    """The API's throttles would answer 429 to a benchmark's repeated requests; they are not what is measured."""
    saved = [(cls, cls.allow_request) for cls in (permissions.AnonThrottle, permissions.UserThrottle)]
    for cls, _ in saved:
        cls.allow_request = lambda self, request, view: True
    try:
        yield
    finally:
        for cls, method in saved:
            cls.allow_request = method


class Recorder:
    """Keeps the (sql, params) of every query that reads the read models."""

    def __init__(self):
        self.queries: list[tuple[str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        if READ_MODEL_TABLE in sql and not many:
            self.queries.append((sql, params))
        return execute(sql, params, many, context)


def raw_sql_time(queries: list[tuple[str, object]], *, warmup: int, repeat: int) -> list[float]:
    """The time of running these queries straight through the driver, rows fetched, one sample per round."""

    def run():
        with connection.cursor() as cursor:
            for sql, params in queries:
                cursor.execute(sql, params)
                cursor.fetchall()

    return timed(run, warmup=warmup, repeat=repeat)


def measure_get(
    client: Client,
    name: str,
    group: str,
    url: str,
    *,
    warmup: int,
    repeat: int,
    cold_cache: bool = False,
    with_sql: bool = True,
) -> Timing:
    """GET `url` repeatedly; `cold_cache` empties the cache before each request, so nothing cached is measured."""

    def get():
        if cold_cache:
            cache.clear()
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
        return response

    timing = Timing(name, group, timed(get, warmup=warmup, repeat=repeat))
    if with_sql:
        recorder = Recorder()
        cache.clear()
        with connection.execute_wrapper(recorder):
            get()
        if recorder.queries:
            timing.raw_sql = raw_sql_time(recorder.queries, warmup=1, repeat=max(3, repeat // 2))
    return timing
