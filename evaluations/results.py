"""The one way results enter the database: the importer, the API and the job queue all call `record_result`."""

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from .current import refresh_current_scores
from .models import (
    SCORE_LARGEST,
    SCORE_SMALLEST,
    Benchmark,
    Checkpoint,
    Evaluation,
    EvaluationConfig,
    Metric,
    ModelFamily,
    Score,
    Training,
)


@dataclass(frozen=True)
class ScoreValue:
    value: float
    stderr: float | None = None


@dataclass(frozen=True)
class RecordedResult:
    evaluation: Evaluation
    created: bool


def validate_score(key: str, score: ScoreValue, *, metric: Metric | None = None) -> None:
    """Refuse what the database would refuse, and a value outside `metric`'s bounds, with a message naming it."""
    if isinstance(score.value, bool) or not isinstance(score.value, int | float):
        raise ValidationError(f"{key}: the value must be a number, got {score.value!r}.")
    if not math.isfinite(score.value):
        raise ValidationError(f"{key}: the value must be a finite number, got {score.value}.")
    if score.value != 0 and not SCORE_SMALLEST <= abs(score.value) <= SCORE_LARGEST:
        raise ValidationError(f"{key}: the value must be 0 or of magnitude 1e-100 to 1e15, got {score.value}.")
    if score.stderr is not None:
        if isinstance(score.stderr, bool) or not isinstance(score.stderr, int | float):
            raise ValidationError(f"{key}: the stderr must be a number, got {score.stderr!r}.")
        if not math.isfinite(score.stderr) or score.stderr < 0:
            raise ValidationError(f"{key}: the stderr must be a finite number ≥ 0, got {score.stderr}.")
        if score.stderr != 0 and not SCORE_SMALLEST <= score.stderr <= SCORE_LARGEST:
            raise ValidationError(f"{key}: the stderr must be 0 or from 1e-100 to 1e15, got {score.stderr}.")
    reason = metric.out_of_bounds(score.value) if metric is not None else None
    if reason:
        raise ValidationError(reason)


def fingerprint(scores: Mapping[Metric, ScoreValue]) -> str:
    """A stable hash of the values, so the same results posted or imported twice are recognised."""
    canonical = sorted(
        (metric.key, float(s.value), None if s.stderr is None else float(s.stderr)) for metric, s in scores.items()
    )
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


def config_digest(config: Mapping) -> str:
    """The SHA-256 of `config` as canonical JSON: equal configs get equal digests whatever their key order."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def stored_configs(configs: Iterable[Mapping | None]) -> dict[str, EvaluationConfig]:
    """The row of each distinct non-empty config, by digest, creating those not stored yet (in two queries or three).

    A result file's tasks, and every re-run with the same settings, share one row instead of each copying it.
    """
    wanted = {config_digest(config): config for config in configs if config}
    if not wanted:
        return {}
    found = {row.digest: row for row in EvaluationConfig.objects.filter(digest__in=wanted)}
    missing = [EvaluationConfig(digest=digest, data=config) for digest, config in wanted.items() if digest not in found]
    if missing:
        # A concurrent writer may store the same config first: its row is the one to use (fetched just below).
        EvaluationConfig.objects.bulk_create(missing, ignore_conflicts=True)
        found |= {
            row.digest: row for row in EvaluationConfig.objects.filter(digest__in=[row.digest for row in missing])
        }
    return found


def stored_config(config: Mapping | None) -> EvaluationConfig | None:
    """The row of `config`, stored once however many evaluations share it; None for an empty config."""
    return stored_configs([config]).get(config_digest(config)) if config else None


def resolve_checkpoint(model_name: str, training_name: str, step: int) -> Checkpoint:
    """The checkpoint, creating its model and training on first sight (how checkpoints appear as a model trains)."""
    if step < 0:
        raise ValidationError(f"step must be ≥ 0, got {step}.")
    model, _ = ModelFamily.objects.get_or_create(name=model_name)
    training, _ = Training.objects.get_or_create(model=model, name=training_name)
    checkpoint, _ = Checkpoint.objects.get_or_create(training=training, step=step)
    return checkpoint


@dataclass(frozen=True)
class Result:
    """One result to record: the succeeded evaluation of `benchmark` on `checkpoint` with these scores."""

    checkpoint: Checkpoint
    benchmark: Benchmark
    scores: Mapping[Metric, ScoreValue]
    source: str
    harness: str = ""
    harness_version: str = ""
    config: dict | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    requested_by: object = None


def record_result(checkpoint: Checkpoint, benchmark: Benchmark, scores: Mapping[Metric, ScoreValue], **details):
    """Store one succeeded evaluation with its scores, unless the same values were already recorded for it."""
    return record_results([Result(checkpoint, benchmark, scores, **details)])[0]


@transaction.atomic
def record_results(results: list[Result]) -> list[RecordedResult]:
    """Store many results in a few queries, each one unless the same values were already recorded for it.

    A result whose values differ from every earlier one is a new evaluation: the history is kept and the latest
    succeeded evaluation is the one that counts. The read model is refreshed in the same transaction.
    """
    digests = []
    for result in results:
        if not result.scores:
            raise ValidationError(f"{result.benchmark.slug}: no scores.")
        for metric, score in result.scores.items():
            if metric.benchmark_id != result.benchmark.pk:
                raise ValidationError(f"{metric.key} is a metric of another benchmark than {result.benchmark.slug}.")
            validate_score(metric.key, score, metric=metric)
        digests.append(fingerprint(result.scores))
    checkpoint_ids = {result.checkpoint.pk for result in results}
    if connection.features.has_select_for_update:  # SQLite has no row locks: it lets one writer in at a time
        # Concurrent writers of the same checkpoints wait here, so that `known` sees what the other one committed:
        # the same values written twice at once are recorded once. Locking in id order keeps two writers of the same
        # checkpoints from waiting for each other.
        list(Checkpoint.objects.select_for_update().filter(pk__in=checkpoint_ids).order_by("pk").values_list("pk"))
    known = {
        (e.checkpoint_id, e.benchmark_id, e.fingerprint): e
        for e in Evaluation.objects.filter(
            checkpoint__in=checkpoint_ids,
            benchmark__in={r.benchmark.pk for r in results},
            status=Evaluation.Status.SUCCEEDED,
            fingerprint__in=set(digests),
        )
    }
    now = timezone.now()
    new: dict[tuple, tuple[Evaluation, Result]] = {}
    for result, digest in zip(results, digests, strict=True):
        key = (result.checkpoint.pk, result.benchmark.pk, digest)
        if key not in known and key not in new:
            new[key] = (
                Evaluation(
                    checkpoint=result.checkpoint,
                    benchmark=result.benchmark,
                    status=Evaluation.Status.SUCCEEDED,
                    source=result.source,
                    harness=result.harness,
                    harness_version=result.harness_version,
                    fingerprint=digest,
                    started_at=result.started_at,
                    finished_at=result.finished_at or now,
                    requested_by=result.requested_by,
                ),
                result,
            )
    configs = stored_configs(result.config for _, result in new.values())
    for evaluation, result in new.values():
        evaluation.run_config = configs[config_digest(result.config)] if result.config else None
    # bulk_create sets the primary keys on both databases (SQLite ≥ 3.35 returns them too).
    Evaluation.objects.bulk_create(evaluation for evaluation, _ in new.values())
    Score.objects.bulk_create(
        Score(evaluation=evaluation, metric=metric, value=float(s.value), stderr=s.stderr)
        for evaluation, result in new.values()
        for metric, s in result.scores.items()
    )
    refresh_current_scores({(key[0], key[1]) for key in new})
    outcomes = []
    first_seen = set()
    for result, digest in zip(results, digests, strict=True):
        key = (result.checkpoint.pk, result.benchmark.pk, digest)
        fresh = key in new and key not in first_seen
        first_seen.add(key)
        outcomes.append(RecordedResult(new[key][0] if key in new else known[key], created=fresh))
    return outcomes
