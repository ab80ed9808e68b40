"""The one way results enter the database: the importer, the API, the job queue and the admin all write here.

`record_results` stores new evaluations, `complete_evaluation` turns a job into its result, `refingerprint` follows
scores edited in the admin. Whether values were already recorded is decided here only, by the fingerprint.
"""

import hashlib
import json
import math
from collections import defaultdict
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
    # The latest earlier evaluation of the same checkpoint and benchmark, when this one has other values.
    previous: int | None = None


class OtherValuesRecorded(Exception):
    """The evaluation already succeeded with other values; new values are a new evaluation, not an edit."""


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
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()[:32]


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


def _checked(result: "Result") -> str:
    """The fingerprint of the result's scores, once they are known to be fit to store."""
    if not result.scores:
        raise ValidationError(f"{result.benchmark.slug}: no scores.")
    for metric, score in result.scores.items():
        if metric.benchmark_id != result.benchmark.pk:
            raise ValidationError(f"{metric.key} is a metric of another benchmark than {result.benchmark.slug}.")
        validate_score(metric.key, score, metric=metric)
    return fingerprint(result.scores)


def _lock_checkpoints(checkpoint_ids: set[int]) -> None:
    """Make concurrent writers of the same checkpoints wait for one another (PostgreSQL).

    Each then sees what the other committed, so the same values written twice at once are recorded once, and the
    read model's rewrites follow one another. Locking in id order keeps two writers from waiting for each other.
    """
    if connection.features.has_select_for_update:  # SQLite has no row locks: it lets one writer in at a time
        list(Checkpoint.objects.select_for_update().filter(pk__in=checkpoint_ids).order_by("pk").values_list("pk"))


@transaction.atomic
def record_results(results: list[Result]) -> list[RecordedResult]:
    """Store many results in a few queries, each one unless the same values were already recorded for it.

    A result whose values differ from every earlier one is a new evaluation: the history is kept and the latest
    succeeded evaluation is the one that counts. The same values twice in one batch are one new evaluation. The
    read model is refreshed in the same transaction.
    """
    digests = [_checked(result) for result in results]
    checkpoint_ids = {result.checkpoint.pk for result in results}
    _lock_checkpoints(checkpoint_ids)
    history = _history(checkpoint_ids, {result.benchmark.pk for result in results})
    now = timezone.now()
    new: dict[tuple, tuple[Evaluation, Result]] = {}
    for result, digest in zip(results, digests, strict=True):
        key = (result.checkpoint.pk, result.benchmark.pk, digest)
        if digest not in history[key[:2]] and key not in new:
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
    # The answers in the batch's order, each new evaluation naming the one it follows.
    outcomes = []
    for result, digest in zip(results, digests, strict=True):
        pair = (result.checkpoint.pk, result.benchmark.pk)
        if digest in history[pair]:
            outcomes.append(RecordedResult(history[pair][digest], created=False))
            continue
        previous = max(history[pair].values(), key=_recency, default=None)
        evaluation = new[(*pair, digest)][0]
        history[pair][digest] = evaluation
        outcomes.append(RecordedResult(evaluation, created=True, previous=previous.pk if previous else None))
    return outcomes


@transaction.atomic
def complete_evaluation(job: Evaluation, result: Result, **fields) -> RecordedResult:
    """The job becomes the succeeded evaluation with the result's scores, and the read model follows.

    A job already succeeded with the same values changes nothing (created=False); with other values it raises
    OtherValuesRecorded. `fields` are further columns to set, e.g. to end a lease.
    """
    digest = _checked(result)
    _lock_checkpoints({job.checkpoint_id})
    if job.status == Evaluation.Status.SUCCEEDED:
        if job.fingerprint == digest:
            return RecordedResult(job, created=False)
        raise OtherValuesRecorded(f"Evaluation {job.pk} already succeeded with other scores.")
    fields |= {
        "status": Evaluation.Status.SUCCEEDED,
        "fingerprint": digest,
        "harness": result.harness,
        "harness_version": result.harness_version,
        "run_config": stored_config(result.config),
        "started_at": result.started_at or job.started_at,
        "finished_at": result.finished_at or timezone.now(),
        "error": "",
    }
    # A queryset update: saving the instance would refresh the read model before the scores exist.
    Evaluation.objects.filter(pk=job.pk).update(**fields)
    Score.objects.bulk_create(
        Score(evaluation_id=job.pk, metric=metric, value=float(s.value), stderr=s.stderr)
        for metric, s in result.scores.items()
    )
    refresh_current_scores([(job.checkpoint_id, job.benchmark_id)])
    job.refresh_from_db()
    return RecordedResult(job, created=True)


def refingerprint(evaluation: Evaluation) -> None:
    """Make the fingerprint follow the evaluation's scores after they were edited (in the admin).

    The fingerprint is how the same results arriving twice are recognised, so it must describe the stored values.
    """
    scores = {
        score.metric: ScoreValue(score.value, score.stderr) for score in evaluation.scores.select_related("metric")
    }
    evaluation.fingerprint = fingerprint(scores) if scores else ""
    evaluation.save(update_fields=["fingerprint"])


def _history(checkpoint_ids: set[int], benchmark_ids: set[int]) -> dict[tuple[int, int], dict[str, Evaluation]]:
    """Succeeded evaluations of these checkpoints on these benchmarks, by (checkpoint, benchmark) and fingerprint.

    Only the columns deciding what is new are loaded: re-importing a file of unchanged results never loads their
    configs.
    """
    found = Evaluation.objects.filter(
        status=Evaluation.Status.SUCCEEDED, checkpoint_id__in=checkpoint_ids, benchmark_id__in=benchmark_ids
    ).only("pk", "checkpoint_id", "benchmark_id", "fingerprint", "finished_at", "created_at")
    history: dict[tuple[int, int], dict[str, Evaluation]] = defaultdict(dict)
    for evaluation in found:
        history[(evaluation.checkpoint_id, evaluation.benchmark_id)].setdefault(evaluation.fingerprint, evaluation)
    return history


def _recency(evaluation: Evaluation) -> tuple:
    """The order in which the latest succeeded evaluation is chosen: newest finish, then the newer row."""
    finished = evaluation.finished_at
    return (finished is not None, finished.timestamp() if finished else 0.0, evaluation.pk)
