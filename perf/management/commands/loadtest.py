"""`manage.py loadtest`: the production configuration under mixed traffic, then a count of what was written."""

import json
import tempfile
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Count

from accounts.models import ApiToken
from evaluations.current import current_score_drift
from evaluations.models import Benchmark, Evaluation, ModelFamily, Score, Tag
from perf import load, report, scenarios, server


class Command(BaseCommand):
    help = (
        "Start the site under gunicorn in its production configuration against DATABASE_URL's database (which must "
        "hold the benchmark's synthetic data: run `manage.py bench` first), send mixed traffic (leaderboard pages, "
        "ad-hoc rankings, API reads, result ingest and re-posts) from CONCURRENCY threads for SECONDS, then check "
        "that every acknowledged result is stored exactly once. Fails on any 5xx, lost or duplicated result."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--concurrency", type=int, default=32)
        parser.add_argument("--seconds", type=float, default=60)
        parser.add_argument("--workers", type=int, help="gunicorn workers (default: its configuration's).")
        parser.add_argument("--threads", type=int, help="gunicorn threads per worker.")
        parser.add_argument("--redis", default="", help="A Redis URL for the server's cache (default: local memory).")
        parser.add_argument("--no-report", action="store_true", help="Print the results only; write no files.")

    def handle(self, *args, concurrency: int, seconds: float, **options) -> None:
        if concurrency < 1 or seconds <= 0:
            raise CommandError("--concurrency must be at least 1 and --seconds positive.")
        scale = _scale()
        board = scenarios.saved_leaderboard()
        metric_ids = [metric.pk for metric in scenarios.primary_metrics(5)]
        user = get_user_model().objects.create_user(f"loadtest-{time.time_ns()}", is_staff=True, is_superuser=True)
        _, key = ApiToken.objects.issue(user, "load test")
        training = f"loadtest-{time.time_ns()}"
        pages, adhoc, api = load.page_paths(board.slug, metric_ids, board.rows().count())
        plan = load.Plan(pages, adhoc, api, key, _benchmarks(), training)
        overrides = {"API_THROTTLE_USER": "none", "API_THROTTLE_ANON": "none", "LOG_LEVEL": "warning"}
        for name, value in [("WEB_CONCURRENCY", options["workers"]), ("GUNICORN_THREADS", options["threads"])]:
            if value:
                overrides[name] = str(value)
        if options["redis"]:
            overrides["REDIS_URL"] = options["redis"]
        log = Path(tempfile.gettempdir()) / "leaderboard-loadtest-gunicorn.log"
        self.stdout.write(f"Load test: {concurrency} clients for {seconds:.0f} s on scale {scale} (server log: {log})")
        try:
            with server.running(overrides, log) as (port, memory):
                summary = load.run("127.0.0.1", port, plan, concurrency=concurrency, seconds=seconds)
            summary["worker_peak_rss_mb"] = round(max(memory.peak_mb.values(), default=0.0), 1)
            summary |= _stored(training, summary["results_acknowledged"])
        finally:
            ModelFamily.objects.filter(name=training).delete()
            user.delete()
        summary |= {"scale": scale, "vendor": connection.vendor, "cache": "redis" if options["redis"] else "locmem"}
        self.stdout.write(json.dumps(summary, indent=2))
        if not options["no_report"]:
            report.save(summary, prefix="load")
            self.stdout.write(self.style.SUCCESS(f"Written to {report.write_report()}"))
        problems = _problems(summary)
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write(self.style.SUCCESS("No server errors, no lost or duplicated results."))


def _benchmarks() -> list[dict]:
    rows = []
    for benchmark in Benchmark.objects.prefetch_related("metrics").order_by("pk"):
        identity = {"slug": benchmark.slug, "num_fewshot": benchmark.num_fewshot, "version": benchmark.version}
        # Each metric's lower bound: posted values sit just above it, where every metric accepts them.
        rows.append(identity | {"metrics": {m.key: m.lower_bound or 0.0 for m in benchmark.metrics.all()}})
    return rows


def _scale() -> str:
    tag = Tag.objects.filter(name__startswith="synthetic-").values_list("name", flat=True).first()
    if tag is None:
        raise CommandError("No synthetic data here: run `manage.py bench --scale S` (or M, L) on this database first.")
    return tag.removeprefix("synthetic-").upper()


def _stored(training: str, acknowledged: int) -> dict:
    evaluations = Evaluation.objects.filter(checkpoint__training__name=training)
    pairs = evaluations.values("checkpoint_id", "benchmark_id").annotate(n=Count("pk"))
    return {
        "results_stored": evaluations.count(),
        "results_duplicated": pairs.filter(n__gt=1).count(),
        "scores_stored": Score.objects.filter(evaluation__in=evaluations).count(),
        "read_model_drift": current_score_drift(),
        "results_lost": max(0, acknowledged - evaluations.count()),
    }


def _problems(summary: dict) -> list[str]:
    problems = []
    if summary["server_errors"]:
        problems.append(f"{summary['server_errors']} server errors")
    if summary["results_lost"] or summary["results_stored"] != summary["results_acknowledged"]:
        problems.append(f"{summary['results_acknowledged']} results acknowledged, {summary['results_stored']} stored")
    if summary["results_duplicated"]:
        problems.append(f"{summary['results_duplicated']} results stored twice")
    if any(summary["read_model_drift"].values()):
        problems.append(f"read model drift: {summary['read_model_drift']}")
    refused = sum(count for code, count in summary["statuses"].items() if 400 <= int(code) < 500)
    if refused:
        problems.append(f"{refused} requests refused (4xx)")
    if len(summary["errors"]) > refused:
        problems.append("connections failed")
    return problems
