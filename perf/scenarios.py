"""What the benchmark measures on the synthetic data: pages, API reads, ingest and the read-model rebuild."""

import json
import time
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client

from accounts.models import ApiToken
from evaluations.current import rebuild_current_scores
from evaluations.importers import Importer
from evaluations.importers.lm_eval import Overrides
from evaluations.models import Benchmark, Checkpoint, CurrentScore, Metric, ModelFamily, Tag, Training
from rankings.methods import Method
from rankings.models import Leaderboard, LeaderboardMetric

from .measure import Timing, measure_get, timed

SAVED_SLUG = "synthetic-overall"
INGEST_MODEL = "synthetic-ingest"
BATCH = 500


def saved_leaderboard() -> Leaderboard:
    """A public leaderboard ranking trainings by the normalised mean accuracy over five benchmarks."""
    board, created = Leaderboard.objects.get_or_create(
        slug=SAVED_SLUG,
        defaults={"name": "Synthetic overall", "method": Method.NORMALISED_MEAN, "best_only": True},
    )
    if created:
        for metric in primary_metrics(5):
            LeaderboardMetric.objects.create(leaderboard=board, metric=metric)
    return board


def primary_metrics(count: int) -> list[Metric]:
    return list(Metric.objects.filter(is_primary=True).order_by("benchmark__slug")[:count])


def read_scenarios(client: Client, *, warmup: int, repeat: int) -> list[Timing]:
    board = saved_leaderboard()
    first = primary_metrics(1)[0]
    five = [("metric", m.pk) for m in primary_metrics(5)]
    tag = Tag.objects.get(name="dense")
    single = [("metric", first.pk)]
    # Page 10 where there is one (scales S and up), else the last.
    last_page = min(10, max(1, CurrentScore.objects.filter(metric=first).count() // 50))
    rankings = [
        ("single metric, best checkpoint only", [*single, ("best_only", 1)]),
        ("single metric, every checkpoint", [*single, ("best_only", 0)]),
        ("5-metric normalised mean, best only", [*five, ("method", Method.NORMALISED_MEAN), ("best_only", 1)]),
        ("5-metric normalised mean, every checkpoint", [*five, ("method", Method.NORMALISED_MEAN), ("best_only", 0)]),
        ("filtered (tag), single metric, best only", [*single, ("best_only", 1), ("tag", tag.pk)]),
        (f"page {last_page}, single metric, every checkpoint", [*single, ("best_only", 0), ("page", last_page)]),
    ]
    options = {"warmup": warmup, "repeat": repeat}
    timings = [
        # Served from the cache: no ranking query runs, so there is no raw SQL to compare with.
        measure_get(client, "saved leaderboard (cached)", "page", board.get_absolute_url(), with_sql=False, **options),
        measure_get(client, "saved leaderboard", "page", board.get_absolute_url(), cold_cache=True, **options),
        measure_get(client, "saved leaderboard", "api", f"/api/v1/leaderboards/{SAVED_SLUG}/rows/", **options),
    ]
    for name, params in rankings:
        query = urlencode(params)
        timings.append(measure_get(client, f"ad hoc: {name}", "page", f"/rank/?{query}", **options))
        timings.append(measure_get(client, f"ad hoc: {name}", "api", f"/api/v1/rankings/?{query}", **options))
    training = Training.objects.order_by("pk")[7]
    timings.append(measure_get(client, "training page", "page", f"/trainings/{training.pk}/", **options))
    checkpoints = Checkpoint.objects.filter(training__in=Training.objects.order_by("pk")[:4]).order_by("-step")[:4]
    compare = urlencode([("checkpoint", c.pk) for c in checkpoints])
    timings.append(measure_get(client, "compare 4 checkpoints", "page", f"/compare/?{compare}", **options))
    return timings


def api_ingest(client: Client, *, batches: int) -> dict:
    """Results posted through the API in batches of BATCH, each result carrying every metric of its benchmark."""
    user = get_user_model().objects.create_user("synthetic-ingest", is_staff=True, is_superuser=True)
    _, key = ApiToken.objects.issue(user, "benchmark")
    benchmarks = list(Benchmark.objects.prefetch_related("metrics").order_by("pk"))
    per_checkpoint = len(benchmarks)
    scores = 0
    seconds = 0.0
    for batch in range(batches):
        results = []
        for position in range(BATCH):
            step = (batch * BATCH + position) // per_checkpoint
            benchmark = benchmarks[position % per_checkpoint]
            # Just above each metric's lower bound (a perplexity's is 1): values every metric accepts.
            metrics = {
                m.key: {"value": (m.lower_bound or 0.0) + 0.5 + (step % 97) / 1000, "stderr": 0.01}
                for m in benchmark.metrics.all()
            }
            scores += len(metrics)
            identity = {"slug": benchmark.slug, "num_fewshot": benchmark.num_fewshot, "version": benchmark.version}
            results.append(
                {"model": INGEST_MODEL, "training": f"{INGEST_MODEL}-api", "step": step * 1000}
                | {"benchmark": identity, "metrics": metrics}
            )
        body = json.dumps(results)
        started = time.perf_counter()
        response = client.post(
            "/api/v1/results/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}"
        )
        seconds += time.perf_counter() - started
        if response.status_code not in (200, 201):
            raise RuntimeError(f"the results API answered {response.status_code}: {response.content[:300]!r}")
    user.delete()
    return {"results": batches * BATCH, "scores": scores, "seconds": seconds}


def importer_ingest(*, files: int) -> dict:
    """lm-evaluation-harness result files (one checkpoint each, every benchmark) through the importer."""
    benchmarks = list(Benchmark.objects.prefetch_related("metrics").order_by("pk"))
    importer = Importer(Overrides(model=INGEST_MODEL, training=f"{INGEST_MODEL}-lm-eval"))
    scores = 0
    started = time.perf_counter()
    for number in range(files):
        results = {}
        for benchmark in benchmarks:
            row = {}
            for metric in benchmark.metrics.all():
                row[metric.key] = (metric.lower_bound or 0.0) + 0.4 + (number % 89) / 1000
                row[f"{metric.key}_stderr"] = 0.01
            scores += len(benchmark.metrics.all())
            results[benchmark.slug] = row
        document = {
            "results": results,
            "versions": {benchmark.slug: benchmark.version for benchmark in benchmarks},
            "config": {"model_args": f"pretrained=synthetic/ingest,revision=step{number * 1000}", "num_fewshot": 0},
        }
        outcome = importer.import_document(document, origin=f"synthetic-{number}.json")
        if not outcome.ok:
            raise RuntimeError(f"the importer refused a synthetic file: {outcome.error}")
    seconds = time.perf_counter() - started
    return {"results": files * len(benchmarks), "scores": scores, "seconds": seconds}


def remove_ingested() -> None:
    """The ingest measurements' rows go again, so the next run measures the same data."""
    with transaction.atomic():
        ModelFamily.objects.filter(name=INGEST_MODEL).delete()


def rebuild_seconds() -> float:
    samples = timed(rebuild_current_scores, warmup=0, repeat=1)
    return samples[0] / 1000
