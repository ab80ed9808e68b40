"""Keeping the CurrentScore read model equal to what the evaluation history says.

Every write of results goes through `refresh_current_scores` in the same transaction; the signal handlers at the
bottom cover edits made elsewhere (the admin, a shell). `rebuild_current_scores` recreates the table from scratch
in SQL, and `current_score_drift` compares the table with a fresh derivation without changing anything.
"""

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import versions
from .models import Checkpoint, CurrentScore, Evaluation, Metric, Score


def refresh_current_scores(pairs: Iterable[tuple[int, int]]) -> None:
    """Recompute the current scores of these (checkpoint id, benchmark id) pairs from their latest succeeded
    evaluations, in two queries whatever the number of pairs."""
    pairs = set(pairs)
    if not pairs:
        return
    checkpoint_ids = {c for c, _ in pairs}
    benchmark_ids = {b for _, b in pairs}
    with transaction.atomic():
        # The pairs of checkpoints × benchmarks are recomputed whole: a superset of `pairs`, and still exact.
        CurrentScore.objects.filter(checkpoint_id__in=checkpoint_ids, metric__benchmark_id__in=benchmark_ids).delete()
        # Derived and inserted inside the database: the rows never travel to Python and back.
        checkpoints = ", ".join(["%s"] * len(checkpoint_ids))
        benchmarks = ", ".join(["%s"] * len(benchmark_ids))
        where = f" AND checkpoint_id IN ({checkpoints}) AND benchmark_id IN ({benchmarks})"
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {CurrentScore._meta.db_table} ({_COLUMNS}) "
                f"SELECT {_COLUMNS} FROM ({_derivation(where)}) derived",
                [*checkpoint_ids, *benchmark_ids],
            )
        versions.benchmarks_changed(benchmark_ids)


def reorient_metric(metric: Metric) -> None:
    """Follow a change of a metric's direction in the read model."""
    CurrentScore.objects.filter(metric=metric).update(oriented=F("value") * Value(metric.sign))
    versions.benchmarks_changed([metric.benchmark_id])


# The latest succeeded evaluation of each (checkpoint, benchmark), its scores, oriented: the whole read model as one
# SELECT, used by the rebuild and by the drift check. Ties on finished_at go to the newer row, as in
# refresh_current_scores.
def _derivation(where: str = "") -> str:
    """The SELECT; `where` narrows the evaluations considered (SQL appended to their WHERE clause)."""
    return f"""
    SELECT s.id AS score_id, e.checkpoint_id, s.metric_id, e.id AS evaluation_id, c.training_id, c.step,
           s.value, s.stderr,
           CASE WHEN m.direction = 'lower' THEN -s.value ELSE s.value END AS oriented,
           e.finished_at
    FROM (
        SELECT id, checkpoint_id, finished_at, ROW_NUMBER() OVER (
            PARTITION BY checkpoint_id, benchmark_id
            ORDER BY CASE WHEN finished_at IS NULL THEN 1 ELSE 0 END, finished_at DESC, id DESC
        ) AS recency
        FROM evaluations_evaluation WHERE status = 'succeeded'{where}
    ) e
    JOIN evaluations_score s ON s.evaluation_id = e.id
    JOIN evaluations_metric m ON m.id = s.metric_id
    JOIN evaluations_checkpoint c ON c.id = e.checkpoint_id
    WHERE e.recency = 1
"""


_COLUMNS = "checkpoint_id, metric_id, evaluation_id, training_id, step, value, stderr, oriented, finished_at"


@transaction.atomic
def rebuild_current_scores() -> int:
    """Recreate the whole read model from the evaluation history; returns the number of rows."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {CurrentScore._meta.db_table}")
        cursor.execute(
            f"INSERT INTO {CurrentScore._meta.db_table} ({_COLUMNS}) SELECT {_COLUMNS} FROM ({_derivation()}) derived"
        )
    versions.everything_changed()
    return CurrentScore.objects.count()


def current_score_drift() -> dict[str, int]:
    """Count rows missing from the read model, rows that should not be there, and rows whose values differ."""
    table = CurrentScore._meta.db_table
    same_row = "t.checkpoint_id = d.checkpoint_id AND t.metric_id = d.metric_id"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({_derivation()}) d LEFT JOIN {table} t ON {same_row} WHERE t.id IS NULL")
        (missing,) = cursor.fetchone()
        cursor.execute(
            f"SELECT COUNT(*) FROM {table} t LEFT JOIN ({_derivation()}) d ON {same_row} WHERE d.checkpoint_id IS NULL"
        )
        (extra,) = cursor.fetchone()
        cursor.execute(
            f"""SELECT COUNT(*) FROM {table} t JOIN ({_derivation()}) d ON {same_row}
            WHERE t.evaluation_id <> d.evaluation_id OR t.value <> d.value OR t.oriented <> d.oriented
               OR t.step <> d.step OR t.training_id <> d.training_id"""
        )
        (different,) = cursor.fetchone()
    return {"missing": missing, "extra": extra, "different": different}


# Edits outside record_result (the admin, a shell). A newly created evaluation has no scores yet: its scores' own
# signals, or record_result, refresh it.
@receiver(post_save, sender=Evaluation)
def _evaluation_saved(sender, instance: Evaluation, created: bool, raw: bool = False, **kwargs) -> None:
    if not created and not raw:
        refresh_current_scores([(instance.checkpoint_id, instance.benchmark_id)])


@receiver(post_delete, sender=Evaluation)
def _evaluation_deleted(sender, instance: Evaluation, **kwargs) -> None:
    if Checkpoint.objects.filter(pk=instance.checkpoint_id).exists():
        refresh_current_scores([(instance.checkpoint_id, instance.benchmark_id)])


@receiver(post_save, sender=Score)
@receiver(post_delete, sender=Score)
def _score_changed(sender, instance: Score, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    evaluation = Evaluation.objects.filter(pk=instance.evaluation_id).values("checkpoint_id", "benchmark_id").first()
    if evaluation is not None:
        refresh_current_scores([(evaluation["checkpoint_id"], evaluation["benchmark_id"])])


@receiver(post_save, sender=Metric)
def _metric_saved(sender, instance: Metric, created: bool, raw: bool = False, **kwargs) -> None:
    if not created and not raw:
        reorient_metric(instance)


@receiver(post_save, sender=Checkpoint)
def _checkpoint_saved(sender, instance: Checkpoint, created: bool, raw: bool = False, **kwargs) -> None:
    if not created and not raw:
        CurrentScore.objects.filter(checkpoint=instance).update(step=instance.step, training_id=instance.training_id)
