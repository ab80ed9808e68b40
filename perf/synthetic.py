"""Synthetic evaluation data at named scales, shaped like real training curves, written fast.

Scores rise with the step and sometimes fall again late in a run, accuracy-like values are rounded to four decimals
(so ties happen), some metrics are lower-is-better, 1% of evaluations failed, some (checkpoint, benchmark) pairs were
never evaluated, some evaluations lack a metric, and a few were re-run (the latest counts). Rows are generated a
chunk of trainings at a time and written with COPY on PostgreSQL and executemany on SQLite, so memory stays flat
whatever the scale.
"""

import json
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max

from evaluations.current import rebuild_current_scores
from evaluations.models import Benchmark, Checkpoint, Evaluation, Metric, ModelFamily, Score, Tag, Training

ID_TABLES = (ModelFamily, ModelFamily.tags.through, Training, Checkpoint, Benchmark, Metric, Evaluation, Score)


@dataclass(frozen=True)
class Scale:
    name: str
    trainings: int
    checkpoints: int
    benchmarks: int
    metrics: int

    @property
    def scores(self) -> int:
        return self.trainings * self.checkpoints * self.benchmarks * self.metrics

    @property
    def tag(self) -> str:
        return f"synthetic-{self.name.lower()}"


SCALES = {
    # For the test suite and CI: the smallest data that has every shape the measurements need.
    "XS": Scale("XS", 10, 5, 5, 3),
    "S": Scale("S", 50, 20, 10, 3),
    "M": Scale("M", 500, 40, 20, 3),
    "L": Scale("L", 2000, 50, 20, 5),
}

TRAININGS_PER_MODEL = 10
TRAININGS_PER_CHUNK = 20
STEP = 1000
CATEGORIES = ("reasoning", "knowledge", "language", "math")
FAILED_SHARE = 0.01
NEVER_EVALUATED_SHARE = 0.02
METRIC_MISSING_SHARE = 0.01
RERUN_SHARE = 0.005
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MetricShape:
    key: str
    direction: str
    lower_bound: float | None
    upper_bound: float | None
    decimals: int


# The first `scale.metrics` of these, for every benchmark: the first is primary.
METRIC_SHAPES = (
    MetricShape("acc", Metric.Direction.HIGHER, 0.0, 1.0, 4),
    MetricShape("acc_norm", Metric.Direction.HIGHER, 0.0, 1.0, 4),
    MetricShape("perplexity", Metric.Direction.LOWER, 1.0, None, 3),
    MetricShape("f1", Metric.Direction.HIGHER, 0.0, 1.0, 4),
    MetricShape("bits_per_byte", Metric.Direction.LOWER, 0.0, None, 4),
)


def is_generated(scale: Scale) -> bool:
    """Whether the database holds exactly this scale's data (so a second run measures without generating)."""
    return (
        Tag.objects.filter(name=scale.tag).exists()
        and Training.objects.count() == scale.trainings
        and Checkpoint.objects.count() == scale.trainings * scale.checkpoints
    )


def is_empty() -> bool:
    return not (ModelFamily.objects.exists() or Benchmark.objects.exists())


def flush() -> None:
    """Delete every evaluation, score, checkpoint, training, model, benchmark and tag (leaderboards go with them)."""
    from rankings.models import Leaderboard  # rankings depends on evaluations, not the reverse; perf sees both

    with transaction.atomic():
        Leaderboard.objects.all().delete()
        for model in (Score, Evaluation, Checkpoint, Training, ModelFamily, Metric, Benchmark, Tag):
            model.objects.all()._raw_delete(model.objects.db)
        from evaluations.models import CurrentScore

        CurrentScore.objects.all()._raw_delete(CurrentScore.objects.db)


def generate(scale: Scale, *, seed: int = 1, progress: Callable[[int], None] = lambda n: None) -> dict[str, float]:
    """Write the scale's data into an empty database; `progress(n)` is told of every n trainings written.
    Returns the seconds spent writing the history and rebuilding the read model."""
    rng = random.Random(seed)
    writer = Writer()
    started = datetime.now()
    with transaction.atomic():
        # Ids continue from the highest in each table: the bench command wants an empty database, tests need not.
        last = {model: model.objects.aggregate(last=Max("pk"))["last"] or 0 for model in ID_TABLES}
        metrics = _catalogue(scale, writer, last)
        trainings = _trainings(scale, writer, rng, last)
        ids = {"checkpoint": last[Checkpoint], "evaluation": last[Evaluation], "score": last[Score]}
        for first in range(0, len(trainings), TRAININGS_PER_CHUNK):
            chunk = trainings[first : first + TRAININGS_PER_CHUNK]
            _write_results(scale, chunk, metrics, writer, rng, ids)
            progress(len(chunk))
        writer.reset_sequences()
    written = (datetime.now() - started).total_seconds()
    started = datetime.now()
    rebuild_current_scores()
    rebuilt = (datetime.now() - started).total_seconds()
    writer.analyze()
    return {"history_seconds": written, "rebuild_seconds": rebuilt}


def _catalogue(scale: Scale, writer: "Writer", last: dict) -> dict[int, list[tuple[int, MetricShape, float]]]:
    """Benchmarks and their metrics; returns benchmark id → [(metric id, shape, chance baseline)]."""
    benchmarks, metric_rows, metrics = [], [], {}
    metric_id = last[Metric]
    for number in range(1, scale.benchmarks + 1):
        choices = 2 + number % 4
        benchmark = last[Benchmark] + number
        benchmarks.append(
            (benchmark, f"synthetic_task_{number:02d}", 0, "1", f"Synthetic task {number}", "", "")
            + (CATEGORIES[number % len(CATEGORIES)], "", True, START)
        )
        metrics[benchmark] = []
        for position, shape in enumerate(METRIC_SHAPES[: scale.metrics]):
            metric_id += 1
            baseline = 1 / choices if shape.key in {"acc", "acc_norm"} else None
            metric_rows.append(
                (metric_id, benchmark, shape.key, "", shape.direction, position == 0)
                + (shape.lower_bound, shape.upper_bound, baseline, min(shape.decimals, 3))
            )
            metrics[benchmark].append((metric_id, shape, baseline or 0.0))
    columns = ["id", "slug", "num_fewshot", "version", "name", "description", "url", "category", "group", "is_active"]
    writer.rows(Benchmark, [*columns, "created_at"], benchmarks)
    columns = ["id", "benchmark_id", "key", "name", "direction", "is_primary"]
    writer.rows(Metric, [*columns, "lower_bound", "upper_bound", "baseline", "decimals"], metric_rows)
    return metrics


def _trainings(scale: Scale, writer: "Writer", rng: random.Random, last: dict) -> list[tuple[int, float, bool]]:
    """Models, tags and trainings; returns [(training id, quality, declines late)]."""
    scale_tag, dense, moe = (
        Tag.objects.get_or_create(name=name)[0].pk for name in (scale.tag, "dense", "mixture-of-experts")
    )
    model_count = math.ceil(scale.trainings / TRAININGS_PER_MODEL)
    models, model_tags, trainings, result = [], [], [], []
    through = last[ModelFamily.tags.through]
    for number in range(1, model_count + 1):
        model = last[ModelFamily] + number
        size = (70, 160, 410, 1000, 1400, 2800, 6900, 12000)[number % 8]
        models.append((model, f"synthetic-{size}m-{number:04d}", "", size * 1_000_000, "transformer", "apache-2.0"))
        models[-1] += ("{}", START)
        model_tags += [
            (through + 2 * number - 1, model, scale_tag),
            (through + 2 * number, model, (dense, moe)[number % 2]),
        ]
        strength = math.log(size) / 3
        for seed in range(TRAININGS_PER_MODEL):
            position = (number - 1) * TRAININGS_PER_MODEL + seed + 1
            if position > scale.trainings:
                break
            training = last[Training] + position
            config = json.dumps({"seed": seed, "lr": round(rng.uniform(1e-4, 6e-4), 6)})
            trainings.append((training, model, f"seed-{seed}", "", config, "finished", START, "", START))
            result.append((training, strength + rng.gauss(0, 0.4), rng.random() < 0.3))
    columns = ["id", "name", "description", "parameter_count", "architecture", "license", "metadata", "created_at"]
    writer.rows(ModelFamily, columns, models)
    writer.rows(ModelFamily.tags.through, ["id", "modelfamily_id", "tag_id"], model_tags)
    columns = ["id", "model_id", "name", "description", "config", "status", "started_at", "url", "created_at"]
    writer.rows(Training, columns, trainings)
    return result


def _write_results(scale, chunk, metrics, writer: "Writer", rng: random.Random, ids: dict[str, int]) -> None:
    checkpoints, evaluations, scores = [], [], []
    for training, quality, declines in chunk:
        for position in range(1, scale.checkpoints + 1):
            ids["checkpoint"] += 1
            checkpoint = ids["checkpoint"]
            progress = position / scale.checkpoints
            finished = START + timedelta(days=training % 200, hours=position)
            checkpoints.append((checkpoint, training, position * STEP, "", "", finished))
            for benchmark, benchmark_metrics in metrics.items():
                draw = rng.random()
                if draw < NEVER_EVALUATED_SHARE:
                    continue
                runs = 2 if draw > 1 - RERUN_SHARE else 1
                for run in range(runs):
                    ids["evaluation"] += 1
                    failed = run == runs - 1 and rng.random() < FAILED_SHARE
                    when = finished + timedelta(minutes=benchmark + 60 * run)
                    evaluations.append(_evaluation(ids["evaluation"], checkpoint, benchmark, failed, when))
                    if failed:
                        continue
                    skill = _skill(quality, benchmark, progress, declines, rng)
                    complete = rng.random() >= METRIC_MISSING_SHARE
                    for metric, shape, baseline in benchmark_metrics[: None if complete else -1]:
                        ids["score"] += 1
                        value, stderr = _value(shape, baseline, skill, rng)
                        scores.append((ids["score"], ids["evaluation"], metric, value, stderr))
    writer.rows(Checkpoint, ["id", "training_id", "step", "label", "storage_uri", "created_at"], checkpoints)
    columns = ["id", "checkpoint_id", "benchmark_id", "status", "source", "harness", "harness_version"]
    columns += ["error", "fingerprint", "created_at", "started_at", "finished_at", "attempts", "worker"]
    writer.rows(Evaluation, columns, evaluations)
    writer.rows(Score, ["id", "evaluation_id", "metric_id", "value", "stderr"], scores)


def _evaluation(pk: int, checkpoint: int, benchmark: int, failed: bool, when: datetime) -> tuple:
    status = Evaluation.Status.FAILED if failed else Evaluation.Status.SUCCEEDED
    error = "CUDA out of memory" if failed else ""
    harness = (Evaluation.Source.API, "lm-evaluation-harness", "0.4.5")
    times = (when - timedelta(minutes=5), when - timedelta(minutes=4), when)
    return (pk, checkpoint, benchmark, status, *harness, error, "", *times, 1, "synthetic")


def _skill(quality: float, benchmark: int, progress: float, declines: bool, rng: random.Random) -> float:
    """How far above chance a checkpoint is on a benchmark, in [0, 1]: rises with training, sometimes falls late."""
    ceiling = 1 / (1 + math.exp(-(quality - 2 + (benchmark % 5) * 0.3)))
    learned = 1 - math.exp(-4 * progress)
    if declines and progress > 0.7:
        learned *= 1 - 0.5 * (progress - 0.7)
    return min(1.0, max(0.0, ceiling * learned + rng.gauss(0, 0.01)))


def _value(shape: MetricShape, baseline: float, skill: float, rng: random.Random) -> tuple[float, float | None]:
    if shape.key == "perplexity":
        return round(1 + 40 * math.exp(-4 * skill) + rng.uniform(0, 0.05), shape.decimals), None
    if shape.key == "bits_per_byte":
        return round(0.6 + 0.8 * (1 - skill) + rng.uniform(0, 0.01), shape.decimals), None
    offset = {"acc": 0.0, "acc_norm": 0.02, "f1": -0.05}[shape.key]
    value = min(1.0, max(0.0, baseline + (1 - baseline) * skill + offset + rng.gauss(0, 0.005)))
    stderr = math.sqrt(max(value * (1 - value), 1e-4) / 2000)
    return round(value, shape.decimals), round(stderr, 6)


class Writer:
    """Bulk rows into tables: COPY on PostgreSQL, executemany on SQLite, inside the caller's transaction."""

    def __init__(self):
        self.vendor = connection.vendor
        self.tables: set[str] = set()
        self.models: set = set()

    def rows(self, model, columns: list[str], rows: Iterable[tuple]) -> None:
        table = model._meta.db_table
        self.models.add(model)
        columns = [connection.ops.quote_name(column) for column in columns]  # `group` is a reserved word
        if self.vendor == "postgresql":
            with connection.cursor() as cursor:
                raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no copy()
                with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        placeholders = ", ".join("%s" for _ in columns)
        adapt = connection.ops.adapt_datetimefield_value
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
                ([adapt(v) if isinstance(v, datetime) else v for v in row] for row in rows),
            )

    def reset_sequences(self) -> None:
        """Explicit ids were written: make the next id the database hands out follow them."""
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), sorted(self.models, key=str)):
                cursor.execute(statement)

    def analyze(self) -> None:
        """Fresh planner statistics, and on PostgreSQL a visibility map, as autovacuum would leave them: the plans
        measured are those of a settled database, index-only scans included."""
        # VACUUM cannot run inside a transaction (a test's, say); ANALYZE alone still gives the statistics.
        vacuum = self.vendor == "postgresql" and not connection.in_atomic_block
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
