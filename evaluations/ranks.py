"""What "better" means and how ranks are shared: the rules every ranking on the site follows.

The ranking engine (`rankings.queries`) ranks checkpoints by any method; the pages that read one metric's values
from the read model directly (a benchmark's ranking, a training's best checkpoints, the best of compared
checkpoints) use `CurrentScoreQuerySet`. Both take the order and the rank from the functions here, so a rule changes
in one place. They live in `evaluations` because `evaluations` never imports `rankings`.
"""

from typing import Self

from django.db import models
from django.db.models import Case, F, FloatField, Max, Value, When, Window
from django.db.models.expressions import OrderBy
from django.db.models.functions import DenseRank, Rank, RowNumber

# Metric.Direction.UNKNOWN, spelt out: the models import this module.
UNKNOWN_DIRECTION = "unknown"


def better_first(value: F, step: F, *, nulls_last: bool = False) -> list[OrderBy]:
    """Best first: the higher oriented value, then, between equal values, the earlier step."""
    return [value.desc(nulls_last=True) if nulls_last else value.desc(), step.asc()]


def shared_rank(better: OrderBy, *, dense: bool = False) -> Window:
    """A rank in which equal values share one: standard competition (1, 2, 2, 4), or dense (1, 2, 2, 3)."""
    return Window(DenseRank() if dense else Rank(), order_by=better)


class CurrentScoreQuerySet(models.QuerySet):
    def ranked(self) -> Self:
        """Annotate `rank` among these rows, one metric's (better first, ties share a rank).

        Ordered by rank, then training name, step and id, as the engine orders its rows. A metric of unknown
        direction has no order to rank by: the caller decides what to show instead.
        """
        return self.annotate(rank=shared_rank(F("oriented").desc())).order_by(
            "rank", "checkpoint__training__name", "step", "pk"
        )

    def best_per_training(self) -> Self:
        """Only the best row of each training on each metric, as the engine picks a training's best checkpoint."""
        position = Window(
            RowNumber(),
            partition_by=[F("training_id"), F("metric_id")],
            order_by=better_first(F("oriented"), F("step")),
        )
        return self.annotate(position_in_training=position).filter(position_in_training=1)

    def with_best(self) -> Self:
        """Annotate `best`: the best oriented value of each metric among these rows, NULL where the direction is
        unknown (such a metric has no best, as the engine refuses to rank by it)."""
        best = Window(Max("oriented"), partition_by=[F("metric_id")])
        unknown = When(metric__direction=UNKNOWN_DIRECTION, then=Value(None, output_field=FloatField()))
        return self.annotate(best=Case(unknown, default=best, output_field=FloatField()))
