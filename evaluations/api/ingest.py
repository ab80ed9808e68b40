"""Results posted to the API, written all or nothing through `record_results`, with the lookups batched per request.

Per request: one query for the benchmarks and their metrics, three for the checkpoints (plus inserts for new models,
trainings and checkpoints), one for the fingerprints already recorded; then one `record_results` batch for the
results whose values are new. An unknown benchmark or metric is an error for that item unless it asks
`create_missing` and its user may create them. Errors are collected for every item before anything is kept:
`SubmissionErrors` maps item index → field → messages, and the transaction is rolled back.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from ..importers import known
from ..models import Benchmark, Checkpoint, Evaluation, Metric, ModelFamily, Training
from ..results import Result, ScoreValue, fingerprint, record_results
from .permissions import may_create

SUCCEEDED = Evaluation.Status.SUCCEEDED


class SubmissionErrors(Exception):
    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__(f"{len(errors)} item(s) refused.")
        self.errors = errors


@dataclass(frozen=True)
class Submission:
    """One validated result (see payloads.ResultSerializer)."""

    model: str
    training: str
    step: int
    benchmark: dict
    metrics: dict[str, ScoreValue]
    harness: str = ""
    harness_version: str = ""
    config: dict = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    create_missing: bool = False
    directions: dict[str, str] = field(default_factory=dict)

    @property
    def identity(self) -> tuple[str, int, str]:
        return self.benchmark["slug"], self.benchmark["num_fewshot"], self.benchmark["version"]


@dataclass(frozen=True)
class Recorded:
    evaluation: Evaluation
    created: bool
    # The latest earlier evaluation of the same checkpoint and benchmark, when this one has other values.
    previous: int | None = None


class Catalog:
    """Benchmarks and their metrics by identity, fetched in one query, created on request when the user may."""

    def __init__(self, user, identities: set[tuple[str, int, str]]):
        self.user = user
        self.benchmarks: dict[tuple[str, int, str], tuple[Benchmark, dict[str, Metric]]] = {}
        slugs = {slug for slug, _, _ in identities}
        for benchmark in Benchmark.objects.filter(slug__in=slugs).prefetch_related("metrics"):
            identity = (benchmark.slug, benchmark.num_fewshot, benchmark.version)
            self.benchmarks[identity] = benchmark, {metric.key: metric for metric in benchmark.metrics.all()}

    def benchmark(self, identity: tuple[str, int, str], *, create: bool) -> tuple[Benchmark, dict[str, Metric]]:
        """The benchmark with its metrics by key; raises LookupError with the reason when it is unknown."""
        if identity not in self.benchmarks:
            slug, num_fewshot, version = identity
            described = f"{slug!r} ({num_fewshot}-shot, version {version!r})"
            if not create:
                raise LookupError(
                    f"Unknown benchmark {described}: an admin must create it, or post with create_missing=true "
                    "using a token allowed to create benchmarks."
                )
            if not may_create(self.user, "benchmark"):
                raise LookupError(f"Unknown benchmark {described}, and this token may not create benchmarks.")
            benchmark, _ = Benchmark.objects.get_or_create(
                slug=slug,
                num_fewshot=num_fewshot,
                version=version,
                defaults={"name": slug, "category": known.category_of(slug)},
            )
            self.benchmarks[identity] = benchmark, {metric.key: metric for metric in benchmark.metrics.all()}
        return self.benchmarks[identity]

    def metrics(
        self, benchmark: Benchmark, known_metrics: dict[str, Metric], keys, *, create: bool, directions: dict
    ) -> dict[str, Metric]:
        """The metrics of `benchmark` by key; raises LookupError naming those that are unknown and may not be made."""
        new = [key for key in keys if key not in known_metrics]
        if new and not create:
            raise LookupError(
                f"Unknown metric(s) of {benchmark.slug}: {', '.join(new)}. An admin must add them, or post with "
                "create_missing=true using a token allowed to create metrics."
            )
        if new and not may_create(self.user, "metric"):
            raise LookupError(f"Unknown metric(s) of {benchmark.slug}: {', '.join(new)}; this token may not add them.")
        if new:
            known_metrics.update(self._create_metrics(benchmark, known_metrics, new, directions))
        return {key: known_metrics[key] for key in keys}

    @staticmethod
    def _create_metrics(benchmark: Benchmark, existing: dict[str, Metric], keys: list[str], directions: dict):
        """New metrics with the importer's defaults: known directions, baselines and choice of a primary metric."""
        name = {key: key.split(",")[0] for key in keys}
        direction = {key: directions.get(key) or known.direction_of(name[key], None) for key in keys}
        primary = None
        if not any(metric.is_primary for metric in existing.values()):
            primary = min(keys, key=lambda key: known.primary_order(name[key], direction[key]))
        created = {}
        for key in keys:
            created[key], _ = Metric.objects.get_or_create(
                benchmark=benchmark,
                key=key,
                defaults={
                    "direction": direction[key],
                    "is_primary": key == primary,
                    "baseline": known.baseline_of(benchmark.slug, name[key]),
                    "lower_bound": known.bounds_of(name[key])[0],
                    "upper_bound": known.bounds_of(name[key])[1],
                },
            )
        return created


def resolve_checkpoints(names: set[tuple[str, str, int]]) -> dict[tuple[str, str, int], Checkpoint]:
    """The checkpoints named (model, training, step), creating models, trainings and checkpoints on first sight.

    The batched form of `results.resolve_checkpoint`: a few queries for the whole request instead of three per
    result. Inserts ignore rows a concurrent request created meanwhile, and everything is read back.
    """
    model_names = {model for model, _, _ in names}
    models = {m.name: m for m in ModelFamily.objects.filter(name__in=model_names)}
    if missing := model_names - set(models):
        ModelFamily.objects.bulk_create([ModelFamily(name=name) for name in missing], ignore_conflicts=True)
        models = {m.name: m for m in ModelFamily.objects.filter(name__in=model_names)}

    wanted_trainings = {(models[model].pk, training) for model, training, _ in names}
    training_query = Q()
    for model_id, name in wanted_trainings:
        training_query |= Q(model_id=model_id, name=name)

    def fetch_trainings():
        return {(t.model_id, t.name): t for t in Training.objects.filter(training_query)}

    trainings = fetch_trainings()
    if missing := wanted_trainings - set(trainings):
        Training.objects.bulk_create([Training(model_id=m, name=n) for m, n in missing], ignore_conflicts=True)
        trainings = fetch_trainings()

    def key(model: str, training: str, step: int) -> tuple[int, int]:
        return trainings[(models[model].pk, training)].pk, step

    wanted = {key(*name) for name in names}
    training_ids = {training_id for training_id, _ in wanted}
    steps = {step for _, step in wanted}

    def fetch_checkpoints():
        found = Checkpoint.objects.filter(training_id__in=training_ids, step__in=steps)
        return {(c.training_id, c.step): c for c in found if (c.training_id, c.step) in wanted}

    checkpoints = fetch_checkpoints()
    if missing := wanted - set(checkpoints):
        Checkpoint.objects.bulk_create([Checkpoint(training_id=t, step=s) for t, s in missing], ignore_conflicts=True)
        checkpoints = fetch_checkpoints()
    return {name: checkpoints[key(*name)] for name in names}


@transaction.atomic
def record_submissions(submissions: list[Submission], *, user) -> list[Recorded]:
    """Record every submission or none; raises SubmissionErrors listing what is wrong with which item."""
    catalog = Catalog(user, {s.identity for s in submissions})
    errors: dict[int, dict[str, list[str]]] = defaultdict(dict)
    resolved: list[tuple[Benchmark, dict[Metric, ScoreValue]]] = []
    for index, submission in enumerate(submissions):
        try:
            benchmark, metrics = catalog.benchmark(submission.identity, create=submission.create_missing)
        except LookupError as error:
            errors[index]["benchmark"] = [str(error)]
            continue
        try:
            by_key = catalog.metrics(
                benchmark,
                metrics,
                submission.metrics,
                create=submission.create_missing,
                directions=submission.directions,
            )
        except LookupError as error:
            errors[index]["metrics"] = [str(error)]
            continue
        outside = [
            reason for key, score in submission.metrics.items() if (reason := by_key[key].out_of_bounds(score.value))
        ]
        if outside:
            errors[index]["metrics"] = outside
            continue
        resolved.append((benchmark, {by_key[key]: score for key, score in submission.metrics.items()}))
    if errors:
        raise SubmissionErrors(dict(errors))

    checkpoints = resolve_checkpoints({(s.model, s.training, s.step) for s in submissions})
    targets = [checkpoints[(s.model, s.training, s.step)] for s in submissions]
    # Concurrent requests for the same checkpoints wait here (PostgreSQL), so the same values posted twice at once
    # are still recorded once; locking in id order keeps two requests from waiting for each other.
    list(Checkpoint.objects.select_for_update().filter(pk__in={c.pk for c in targets}).order_by("pk").values("pk"))
    history = _history({c.pk for c in targets}, {b.pk for b, _ in resolved})
    # One batch write for everything new (the same values twice in a request are one new evaluation), then the
    # answers in request order, each naming the evaluation it follows.
    items = list(zip(submissions, targets, resolved, strict=True))
    pending, seen = [], set()
    for submission, checkpoint, (benchmark, scores) in items:
        key = (checkpoint.pk, benchmark.pk, fingerprint(scores))
        if key[2] not in history[key[:2]] and key not in seen:
            seen.add(key)
            pending.append(
                Result(
                    checkpoint,
                    benchmark,
                    scores,
                    source=Evaluation.Source.API,
                    harness=submission.harness,
                    harness_version=submission.harness_version,
                    config=submission.config,
                    started_at=submission.started_at,
                    finished_at=submission.finished_at,
                    requested_by=user,
                )
            )
    written = iter(record_results(pending))
    recorded = []
    for _, checkpoint, (benchmark, scores) in items:
        pair = (checkpoint.pk, benchmark.pk)
        digest = fingerprint(scores)
        if digest in history[pair]:
            recorded.append(Recorded(history[pair][digest], created=False))
            continue
        previous = max(history[pair].values(), key=_recency, default=None)
        result = next(written)
        history[pair][digest] = result.evaluation
        recorded.append(Recorded(result.evaluation, result.created, previous.pk if previous else None))
    return recorded


def _history(checkpoint_ids: set[int], benchmark_ids: set[int]) -> dict[tuple[int, int], dict[str, Evaluation]]:
    """Succeeded evaluations of these checkpoints on these benchmarks, by (checkpoint, benchmark) and fingerprint."""
    found = Evaluation.objects.filter(
        status=SUCCEEDED, checkpoint_id__in=checkpoint_ids, benchmark_id__in=benchmark_ids
    ).only("pk", "checkpoint_id", "benchmark_id", "fingerprint", "finished_at", "created_at")
    history: dict[tuple[int, int], dict[str, Evaluation]] = defaultdict(dict)
    for evaluation in found:
        history[(evaluation.checkpoint_id, evaluation.benchmark_id)].setdefault(evaluation.fingerprint, evaluation)
    return history


def _recency(evaluation: Evaluation) -> tuple:
    """The order in which the latest succeeded evaluation is chosen: newest finish, then the newer row."""
    finished = evaluation.finished_at
    return (finished is not None, finished.timestamp() if finished else 0.0, evaluation.pk)
