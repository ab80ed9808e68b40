"""The evaluation job queue: pending evaluations are jobs that workers claim, run and report on.

Jobs are requested through `evaluations.requests`. A worker claims the oldest pending job (optionally of some
benchmarks or models) and gets a lease: a random token and an expiry time. Only the holder of the token may extend
the lease (heartbeat), complete the job with its scores, or fail it. A lease that expires sends the job back to
pending, to be claimed again, until it has been tried `EVALUATION_MAX_ATTEMPTS` times; then it fails with a reason.
Expired leases are collected lazily, before each claim, and by `manage.py requeue_expired_jobs`; until then the
lease's holder can still heartbeat or complete it, as no other worker has it.

Every state change is one conditional UPDATE (`... WHERE status = 'running' AND lease_token = ...`), so two workers
never both win: on PostgreSQL the claim also skips rows another transaction has locked (`FOR UPDATE SKIP LOCKED`);
on SQLite, which serialises writers, it retries the conditional UPDATE when another worker took the row first.
Domain errors are exceptions; the API decides the status codes.
"""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .models import Evaluation, Metric
from .results import OtherValuesRecorded, Result, ScoreValue, complete_evaluation

PENDING = Evaluation.Status.PENDING
RUNNING = Evaluation.Status.RUNNING
SUCCEEDED = Evaluation.Status.SUCCEEDED
FAILED = Evaluation.Status.FAILED
# On SQLite a claim retries when another worker took the oldest job between its SELECT and its UPDATE.
CLAIM_RETRIES = 20


class LeaseError(Exception):
    """The job is not held by the lease token presented: another worker has it, or it is no longer running."""


@dataclass(frozen=True)
class Completed:
    evaluation: Evaluation
    # False when the same completion was already recorded (a worker retrying after a lost response).
    created: bool


@dataclass(frozen=True)
class Requeued:
    requeued: int
    failed: int


# The longest lease the server grants, whatever a worker asks for.
MAX_LEASE_SECONDS = 7 * 24 * 3600


def lease_seconds_for(requested: int | None = None) -> int:
    """The lease length granted for `requested` seconds: the server's default when None, at most MAX_LEASE_SECONDS."""
    return min(requested or settings.EVALUATION_LEASE_SECONDS, MAX_LEASE_SECONDS)


def pending_jobs() -> QuerySet[Evaluation]:
    """Pending evaluations, oldest first: the order in which workers get them."""
    return Evaluation.objects.filter(status=PENDING).order_by("created_at", "pk")


def claim(
    worker: str,
    *,
    benchmarks: Iterable[int] = (),
    models: Iterable[int] = (),
    lease_seconds: int | None = None,
    now: datetime | None = None,
) -> Evaluation | None:
    """Hand the oldest pending job (of `benchmarks` and `models` when given) to `worker`, or None when there is none.

    The job becomes running with a new lease token, its attempts counted; expired leases are requeued first.
    """
    now = now or timezone.now()
    requeue_expired(now=now)
    candidates = pending_jobs()
    if benchmarks := list(benchmarks):
        candidates = candidates.filter(benchmark__in=benchmarks)
    if models := list(models):
        candidates = candidates.filter(checkpoint__training__model__in=models)
    seconds = lease_seconds_for(lease_seconds)
    lease = {
        "status": RUNNING,
        "worker": worker,
        "lease_token": uuid.uuid4(),
        "lease_expires_at": now + timedelta(seconds=seconds),
        "lease_seconds": seconds,
        "attempts": F("attempts") + 1,
        "started_at": now,
        "error": "",
    }
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            job_id = candidates.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True).first()
            if job_id is None or not Evaluation.objects.filter(pk=job_id, status=PENDING).update(**lease):
                return None
    else:
        for _ in range(CLAIM_RETRIES):
            job_id = candidates.values_list("pk", flat=True).first()
            if job_id is None:
                return None
            if Evaluation.objects.filter(pk=job_id, status=PENDING).update(**lease):
                break
        else:
            return None
    return Evaluation.objects.select_related("checkpoint__training__model", "benchmark").get(pk=job_id)


def _held(job_id: int, token: uuid.UUID) -> Q:
    return Q(pk=job_id, status=RUNNING, lease_token=token)


def _lease_error(job_id: int, token: uuid.UUID) -> Exception:
    """Why the lease check failed: no such job, or it is not running under this token."""
    job = Evaluation.objects.filter(pk=job_id).only("status", "lease_token").first()
    if job is None:
        return Evaluation.DoesNotExist(f"No evaluation {job_id}.")
    if job.status == RUNNING:
        return LeaseError("Another worker holds this job's lease: this lease token is not (or no longer) valid.")
    return LeaseError(f"The job is {job.status}, not running: its lease is over.")


def heartbeat(job_id: int, token: uuid.UUID, *, lease_seconds: int | None = None) -> Evaluation:
    """Renew the lease of a running job held with `token` by the length its claim asked for (or by `lease_seconds`,
    which becomes the length from then on); raises LeaseError (or DoesNotExist) otherwise."""
    if lease_seconds is None:
        # Only the lease's holder changes lease_seconds, and it is the caller: reading it first races with nobody.
        lease_seconds = Evaluation.objects.filter(_held(job_id, token)).values_list("lease_seconds", flat=True).first()
    seconds = lease_seconds_for(lease_seconds)
    expires = timezone.now() + timedelta(seconds=seconds)
    if not Evaluation.objects.filter(_held(job_id, token)).update(lease_expires_at=expires, lease_seconds=seconds):
        raise _lease_error(job_id, token)
    return Evaluation.objects.get(pk=job_id)


def leased(job_id: int, token: uuid.UUID) -> Evaluation:
    """The job, if it is running under `token` (or was completed under it); raises LeaseError or DoesNotExist."""
    job = Evaluation.objects.select_related("checkpoint", "benchmark").filter(pk=job_id).first()
    if job is None:
        raise Evaluation.DoesNotExist(f"No evaluation {job_id}.")
    if job.lease_token != token or job.status not in (RUNNING, SUCCEEDED):
        raise _lease_error(job_id, token)
    return job


@transaction.atomic
def complete(
    job_id: int,
    token: uuid.UUID,
    scores: Mapping[Metric, ScoreValue],
    *,
    harness: str = "",
    harness_version: str = "",
    config: dict | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
) -> Completed:
    """The job becomes the succeeded evaluation with `scores`, and the read model follows, in one transaction.

    Completing again with the same token and the same scores changes nothing (created=False): a worker may retry.
    """
    Evaluation.objects.select_for_update().filter(pk=job_id).first()
    job = leased(job_id, token)
    result = Result(
        job.checkpoint,
        job.benchmark,
        scores,
        source=job.source,
        harness=harness,
        harness_version=harness_version,
        config=config,
        started_at=started_at,
        finished_at=finished_at,
    )
    try:
        recorded = complete_evaluation(job, result, lease_expires_at=None)
    except OtherValuesRecorded:
        raise LeaseError(
            "This job was already completed with other scores: post new results to /results/ instead."
        ) from None
    return Completed(recorded.evaluation, created=recorded.created)


def fail(job_id: int, token: uuid.UUID, error: str) -> Evaluation:
    """Record that the worker holding the job could not run it; the job is failed with `error`."""
    updated = Evaluation.objects.filter(_held(job_id, token)).update(
        status=FAILED, error=error, finished_at=timezone.now(), lease_expires_at=None
    )
    if not updated:
        raise _lease_error(job_id, token)
    return Evaluation.objects.get(pk=job_id)


def requeue_expired(*, now: datetime | None = None, max_attempts: int | None = None) -> Requeued:
    """Send running jobs whose lease expired back to pending, or fail those already tried `max_attempts` times."""
    now = now or timezone.now()
    max_attempts = max_attempts or settings.EVALUATION_MAX_ATTEMPTS
    expired = Evaluation.objects.filter(status=RUNNING, lease_expires_at__lt=now)
    failed = expired.filter(attempts__gte=max_attempts).update(
        status=FAILED,
        error=f"Gave up after {max_attempts} attempts: the lease expired each time without a result.",
        finished_at=now,
        lease_token=None,
        lease_expires_at=None,
    )
    requeued = expired.filter(attempts__lt=max_attempts).update(
        status=PENDING, lease_token=None, lease_expires_at=None, started_at=None
    )
    return Requeued(requeued=requeued, failed=failed)
