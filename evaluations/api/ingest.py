"""Results posted to the API, written all or nothing through `record_results`, with the lookups batched per request.

Per request: one query for the benchmarks and their metrics, three for the checkpoints (plus inserts for new models,
trainings and checkpoints); then one `record_results` batch, which tells the values already recorded from the new.
An unknown benchmark or metric is an error for that item unless it asks `create_missing` and its user may create
them (`catalog_for`). Errors are collected for every item before anything is kept:
`SubmissionErrors` maps item index → field → messages, and the transaction is rolled back.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from ..catalog import Catalog, metric_specs
from ..models import Benchmark, Checkpoint, Evaluation, Metric, ModelFamily, Training
from ..results import RecordedResult, Result, ScoreValue, record_results
from .permissions import may_create


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


def catalog_for(user) -> Catalog:
    """The catalog of what `user` may create while writing results."""
    return Catalog(may_create_benchmarks=may_create(user, "benchmark"), may_create_metrics=may_create(user, "metric"))


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
def record_submissions(submissions: list[Submission], *, user) -> list[RecordedResult]:
    """Record every submission or none; raises SubmissionErrors listing what is wrong with which item."""
    catalog = catalog_for(user)
    catalog.prefetch(s.identity for s in submissions)
    errors: dict[int, dict[str, list[str]]] = defaultdict(dict)
    resolved: list[tuple[Benchmark, dict[Metric, ScoreValue]]] = []
    for index, submission in enumerate(submissions):
        try:
            benchmark = catalog.benchmark(submission.identity, create=submission.create_missing)
        except LookupError as error:
            errors[index]["benchmark"] = [str(error)]
            continue
        try:
            by_key = catalog.metrics(
                benchmark, metric_specs(submission.metrics, submission.directions), create=submission.create_missing
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
    results = [
        Result(
            checkpoints[(submission.model, submission.training, submission.step)],
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
        for submission, (benchmark, scores) in zip(submissions, resolved, strict=True)
    ]
    return record_results(results)
