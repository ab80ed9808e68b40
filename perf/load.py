"""A bounded load test from a second process: mixed page, API and ingest traffic over keep-alive connections.

Every worker thread loops until the deadline, picking a request by weight. Posted results are recorded as the
server acknowledged them, so the database can be checked afterwards for lost or duplicated rows. Some posts repeat
an earlier batch word for word: the API must answer 200 and write nothing.
"""

import http.client
import json
import random
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

RESULTS_PER_POST = 5


@dataclass
class Plan:
    """What to request: paths by kind, and how to post results."""

    pages: list[str]
    adhoc_pages: list[str]
    api_reads: list[str]
    token: str
    benchmarks: list[dict]  # {"slug", "num_fewshot", "version", "metrics": {key: lower bound}}
    training: str
    weights: dict[str, int] = field(
        default_factory=lambda: {"page": 45, "adhoc page": 10, "api read": 25, "ingest": 15, "repost": 5}
    )


@dataclass
class Outcome:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)
    acknowledged: set[tuple[int, str]] = field(default_factory=set)  # (step, benchmark slug) the server accepted
    reposts_unchanged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def summary(self, seconds: float) -> dict:
        every = sorted(latency for values in self.latencies.values() for latency in values)
        kinds = {kind: _percentiles(sorted(values)) for kind, values in sorted(self.latencies.items())}
        return {
            "seconds": round(seconds, 1),
            "requests": len(every),
            "requests_per_second": round(len(every) / seconds, 1),
            "overall": _percentiles(every),
            "by_kind": kinds,
            "statuses": {str(code): count for code, count in sorted(self.statuses.items())},
            "server_errors": sum(count for code, count in self.statuses.items() if code >= 500),
            "errors": self.errors[:20],
            "results_acknowledged": len(self.acknowledged),
            "reposts_unchanged": self.reposts_unchanged,
        }


def _percentiles(ordered: list[float]) -> dict:
    if not ordered:
        return {"count": 0}

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)

    return {"count": len(ordered), "p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "mean_ms": round(statistics.fmean(ordered), 1)}  # fmt: skip


def run(host: str, port: int, plan: Plan, *, concurrency: int, seconds: float) -> dict:
    outcome = Outcome()
    deadline = time.monotonic() + seconds
    steps = iter(range(10**9))
    step_lock = threading.Lock()
    posted: list[str] = []  # bodies the server accepted, for reposts

    def next_step() -> int:
        with step_lock:
            return next(steps)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection(host, port, timeout=60)
        kinds, weights = zip(*plan.weights.items(), strict=True)
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            headers = {"Host": "localhost", "Authorization": f"Token {plan.token}"}
            body = None
            if kind == "page":
                method, path, headers = "GET", rng.choice(plan.pages), {"Host": "localhost"}
            elif kind == "adhoc page":
                method, path, headers = "GET", rng.choice(plan.adhoc_pages), {"Host": "localhost"}
            elif kind == "api read":
                method, path = "GET", rng.choice(plan.api_reads)
            else:
                method, path = "POST", "/api/v1/results/"
                with outcome.lock:
                    repeat = kind == "repost" and posted
                    body = rng.choice(posted) if repeat else None
                if body is None:
                    kind, body = "ingest", _results(plan, next_step())
                headers["Content-Type"] = "application/json"
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                content = response.read()
            except (OSError, http.client.HTTPException) as error:
                with outcome.lock:
                    outcome.errors.append(f"{method} {path}: {error!r}")
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=60)
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with outcome.lock:
                outcome.latencies[kind].append(elapsed)
                outcome.statuses[response.status] += 1
                if response.status >= 400:
                    outcome.errors.append(f"{method} {path}: {response.status} {content[:200]!r}")
                if method == "POST" and response.status in (200, 201):
                    sent = json.loads(body)
                    outcome.acknowledged |= {(item["step"], item["benchmark"]["slug"]) for item in sent}
                    if kind == "ingest":
                        posted.append(body)
                    elif response.status == 200:
                        outcome.reposts_unchanged += 1
        connection.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome.summary(time.monotonic() - started) | {"concurrency": concurrency}


def _results(plan: Plan, number: int) -> str:
    """One new checkpoint's results on RESULTS_PER_POST benchmarks: new rows the database must hold once each."""
    step = (number + 1) * 10
    chosen = plan.benchmarks[:RESULTS_PER_POST]
    return json.dumps(
        [
            {
                "model": plan.training,
                "training": plan.training,
                "step": step,
                "benchmark": {key: benchmark[key] for key in ("slug", "num_fewshot", "version")},
                "metrics": {
                    key: {"value": floor + 0.5 + (number % 89) / 1000, "stderr": 0.01}
                    for key, floor in benchmark["metrics"].items()
                },
            }
            for benchmark in chosen
        ]
    )


def page_paths(board_slug: str, metric_ids: list[int], rows: int) -> tuple[list[str], list[str], list[str]]:
    """Saved-leaderboard pages (a few pages of its `rows` and sorts), ad-hoc rankings, and API reads."""
    board = f"/leaderboards/{board_slug}/"
    pages = [board] + [f"{board}?{urlencode({'page': p})}" for p in (2, 3) if rows > 50 * (p - 1)]
    pages.append(f"{board}?sort=-step")
    adhoc = [f"/rank/?{urlencode({'metric': pk, 'best_only': 1})}" for pk in metric_ids[:3]]
    api = [f"/api/v1/leaderboards/{board_slug}/rows/", f"/api/v1/leaderboards/{board_slug}/rows/?ordering=-step"]
    api += [f"/api/v1/rankings/?{urlencode({'metric': pk, 'best_only': 1})}" for pk in metric_ids[:2]]
    api += ["/api/v1/trainings/", "/api/v1/benchmarks/"]
    return pages, adhoc, api
