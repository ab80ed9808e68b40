"""`manage.py bench --scale S|M|L`: synthetic data at a named scale, then the numbers (docs/performance.md)."""

import platform
import resource
import sys
from datetime import UTC, datetime

import django
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from tqdm import tqdm

from evaluations.models import CurrentScore, Score
from perf import report, scenarios, synthetic
from perf.measure import unthrottled


class Command(BaseCommand):
    help = (
        "Generate synthetic evaluation data at a named scale (S: 30 thousand scores, M: 1.2 million, L: 10 million) "
        "in the database DATABASE_URL names, unless it already holds it, then time the pages, the API, ingest "
        "and the read-model rebuild, print a table and write it to docs/performance.md. Use a database of its own."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=sorted(synthetic.SCALES), default="S")
        parser.add_argument("--repeat", type=int, default=20, help="Timed requests per measurement (default 20).")
        parser.add_argument("--warmup", type=int, default=3, help="Untimed requests first (default 3).")
        parser.add_argument("--batches", type=int, default=10, help="API ingest batches of 500 results.")
        parser.add_argument("--files", type=int, default=20, help="lm-eval files through the importer.")
        parser.add_argument(
            "--flush", action="store_true", help="Delete everything in the database first (it must be a bench one)."
        )
        parser.add_argument("--no-report", action="store_true", help="Print the table only; write no files.")
        parser.add_argument(
            "--skip-rebuild",
            action="store_true",
            help="Do not time a rebuild of the read model (13 minutes at scale L); generating the data times one.",
        )

    def handle(self, *args, scale: str, repeat: int, warmup: int, batches: int, files: int, **options) -> None:
        chosen = synthetic.SCALES[scale]
        if repeat < 1 or warmup < 0 or batches < 1 or files < 1:
            raise CommandError("--repeat, --batches and --files must be at least 1, --warmup at least 0.")
        if options["flush"]:
            synthetic.flush()
        generate_seconds, rebuild = 0.0, None
        if synthetic.is_generated(chosen):
            self.stdout.write(f"The database already holds scale {scale}: measuring it as it is.")
        elif not synthetic.is_empty():
            raise CommandError(
                "The database holds other data. The benchmark needs a database of its own: point DATABASE_URL at "
                "an empty one (make bench does: bench-<scale>.sqlite3), or pass --flush to delete everything in it."
            )
        else:
            generate_seconds, rebuild = self._generate(chosen)
        scenarios.remove_ingested()
        client = Client(HTTP_HOST="localhost")
        with unthrottled():
            timings = scenarios.read_scenarios(client, warmup=warmup, repeat=repeat)
            self.stdout.write("Measuring ingest...")
            ingest = {
                "API, batches of 500 results": scenarios.api_ingest(client, batches=batches),
                "lm-eval importer, one file per checkpoint": scenarios.importer_ingest(files=files),
            }
        scenarios.remove_ingested()
        if rebuild is None and not options["skip_rebuild"]:
            self.stdout.write("Rebuilding the read model...")
            rebuild = scenarios.rebuild_seconds()
        result = {
            "scale": scale,
            "vendor": connection.vendor,
            "database": _database(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "versions": f"Python {platform.python_version()}, Django {django.get_version()}",
            "data": {
                "trainings": chosen.trainings,
                "checkpoints_per_training": chosen.checkpoints,
                "benchmarks": chosen.benchmarks,
                "metrics_per_benchmark": chosen.metrics,
                "scores": Score.objects.count(),
                "current_scores": CurrentScore.objects.count(),
            },
            "timings": [timing.as_dict() for timing in timings],
            "ingest": ingest,
            "rebuild_seconds": rebuild,
            "generate_seconds": generate_seconds,
            # ru_maxrss is in kilobytes on Linux.
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        self.stdout.write(report.render([result]))
        if not options["no_report"]:
            report.save(result)
            self.stdout.write(self.style.SUCCESS(f"Written to {report.write_report()}"))

    def _generate(self, scale: synthetic.Scale) -> tuple[float, float]:
        self.stdout.write(f"Generating scale {scale.name}: {scale.scores:,} scores...")
        with tqdm(total=scale.trainings, unit="training", disable=not sys.stderr.isatty()) as bar:
            seconds = synthetic.generate(scale, progress=bar.update)
        self.stdout.write(
            f"History written in {seconds['history_seconds']:.1f} s, "
            f"read model rebuilt in {seconds['rebuild_seconds']:.1f} s."
        )
        return seconds["history_seconds"] + seconds["rebuild_seconds"], seconds["rebuild_seconds"]


def _database() -> str:
    if connection.vendor == "postgresql":
        version = connection.pg_version
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


def _machine() -> str:
    import os

    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} cores{f' ({model})' if model else ''}, {platform.system()} {platform.machine()}"
