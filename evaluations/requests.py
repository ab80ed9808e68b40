"""Asking for evaluations: each request becomes a pending evaluation, a job for the workers' queue."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from .models import Benchmark, Checkpoint, Evaluation

OPEN = (Evaluation.Status.PENDING, Evaluation.Status.RUNNING)


@dataclass(frozen=True)
class RequestOutcome:
    created: list[Evaluation]
    already_open: list[Evaluation]


@transaction.atomic
def request_evaluations(
    pairs: Iterable[tuple[Checkpoint, Benchmark]], *, user=None, source: str = Evaluation.Source.WEB
) -> RequestOutcome:
    """Create a pending evaluation for each (checkpoint, benchmark) that has no pending or running one yet."""
    pairs = list(dict.fromkeys(pairs))
    if not pairs:
        return RequestOutcome([], [])
    checkpoint_ids = {checkpoint.pk for checkpoint, _ in pairs}
    benchmark_ids = {benchmark.pk for _, benchmark in pairs}
    open_jobs = {
        (evaluation.checkpoint_id, evaluation.benchmark_id): evaluation
        for evaluation in Evaluation.objects.select_for_update().filter(
            checkpoint_id__in=checkpoint_ids, benchmark_id__in=benchmark_ids, status__in=OPEN
        )
    }
    wanted = [(c, b) for c, b in pairs if (c.pk, b.pk) not in open_jobs]
    created = Evaluation.objects.bulk_create(
        Evaluation(checkpoint=c, benchmark=b, status=Evaluation.Status.PENDING, source=source, requested_by=user)
        for c, b in wanted
    )
    already = [open_jobs[(c.pk, b.pk)] for c, b in pairs if (c.pk, b.pk) in open_jobs]
    return RequestOutcome(created, already)
