"""The one way results enter the database: the importer, the API and the job queue all call `record_result`."""

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .current import refresh_current_scores
from .models import Benchmark, Checkpoint, Evaluation, Metric, ModelFamily, Score, Training


@dataclass(frozen=True)
class ScoreValue:
    value: float
    stderr: float | None = None


@dataclass(frozen=True)
class RecordedResult:
    evaluation: Evaluation
    created: bool


def validate_score(key: str, score: ScoreValue) -> None:
    """Refuse what the database would refuse, with a message that names the metric."""
    if isinstance(score.value, bool) or not isinstance(score.value, int | float):
        raise ValidationError(f"{key}: the value must be a number, got {score.value!r}.")
    if not math.isfinite(score.value):
        raise ValidationError(f"{key}: the value must be a finite number, got {score.value}.")
    if score.stderr is not None:
        if isinstance(score.stderr, bool) or not isinstance(score.stderr, int | float):
            raise ValidationError(f"{key}: the stderr must be a number, got {score.stderr!r}.")
        if not math.isfinite(score.stderr) or score.stderr < 0:
            raise ValidationError(f"{key}: the stderr must be a finite number ≥ 0, got {score.stderr}.")


def fingerprint(scores: Mapping[Metric, ScoreValue]) -> str:
    """A stable hash of the values, so the same results posted or imported twice are recognised."""
    canonical = sorted(
        (metric.key, float(s.value), None if s.stderr is None else float(s.stderr)) for metric, s in scores.items()
    )
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


def resolve_checkpoint(model_name: str, training_name: str, step: int) -> Checkpoint:
    """The checkpoint, creating its model and training on first sight (how checkpoints appear as a model trains)."""
    if step < 0:
        raise ValidationError(f"step must be ≥ 0, got {step}.")
    model, _ = ModelFamily.objects.get_or_create(name=model_name)
    training, _ = Training.objects.get_or_create(model=model, name=training_name)
    checkpoint, _ = Checkpoint.objects.get_or_create(training=training, step=step)
    return checkpoint


@transaction.atomic
def record_result(
    checkpoint: Checkpoint,
    benchmark: Benchmark,
    scores: Mapping[Metric, ScoreValue],
    *,
    source: str,
    harness: str = "",
    harness_version: str = "",
    config: dict | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    requested_by=None,
) -> RecordedResult:
    """Store a succeeded evaluation with its scores, unless the same values were already recorded for it.

    A result whose values differ from every earlier one is a new evaluation: the history is kept and the latest
    succeeded evaluation is the one that counts.
    """
    if not scores:
        raise ValidationError(f"{benchmark.slug}: no scores.")
    for metric, score in scores.items():
        if metric.benchmark_id != benchmark.pk:
            raise ValidationError(f"{metric.key} is a metric of another benchmark than {benchmark.slug}.")
        validate_score(metric.key, score)
    digest = fingerprint(scores)
    existing = Evaluation.objects.filter(
        checkpoint=checkpoint, benchmark=benchmark, status=Evaluation.Status.SUCCEEDED, fingerprint=digest
    ).first()
    if existing is not None:
        return RecordedResult(existing, created=False)
    evaluation = Evaluation.objects.create(
        checkpoint=checkpoint,
        benchmark=benchmark,
        status=Evaluation.Status.SUCCEEDED,
        source=source,
        harness=harness,
        harness_version=harness_version,
        config=config or {},
        fingerprint=digest,
        started_at=started_at,
        finished_at=finished_at or timezone.now(),
        requested_by=requested_by,
    )
    Score.objects.bulk_create(
        Score(evaluation=evaluation, metric=metric, value=float(s.value), stderr=s.stderr)
        for metric, s in scores.items()
    )
    refresh_current_scores([(checkpoint.pk, benchmark.pk)])
    return RecordedResult(evaluation, created=True)
