"""Rankings computed by the database, in one query of four chained common table expressions.

SQL forbids a window function inside another one, and most methods need exactly that (a rank over an average of
per-metric ranks, a best checkpoint chosen by a score that is itself relative to the other rows). Each stage is
therefore a CTE whose windows the next stage reads as plain columns:

1. `values`:   one row per candidate checkpoint with the chosen metrics side by side (value, stderr, oriented
               value) from the CurrentScore read model, and its coverage; `require all` drops incomplete rows here.
2. `filled`:   the worst and best observed oriented value of each metric over those rows, and the oriented value
               with a missing one replaced by the worst observed under the `worst` policy.
3. `relative`: per metric, what the method averages: the oriented value, the normalised 0–100 value, the rank, or
               the win rate.
4. `scored`:   the (weighted) mean of those, the sort key (higher is always better), and for best-checkpoint-only
               the checkpoint's position within its training.

The outer query joins the last stage to Checkpoint rows, keeps the best checkpoint of each training when asked, and
ranks with one more window, so the result is an ordinary QuerySet that tables, filters and pagination take as is.
"""

from typing import Self

from django.db import models
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    Max,
    Min,
    Q,
    Value,
    ValueRange,
    When,
    Window,
    WindowFrameExclusion,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Least, NullIf, Rank, Round, RowNumber
from django.db.models.lookups import GreaterThan, IsNull, LessThan, LessThanOrEqual
from django_cte import CTE, with_cte

from evaluations.models import CurrentScore
from evaluations.ranks import better_first, shared_rank

from .methods import Method, Missing, RankingSpec, Ties

FLOAT = FloatField()
SORT_DECIMALS = 9


NULL = Value(None, output_field=FLOAT)


def _f(value: float) -> Value:
    return Value(float(value), output_field=FLOAT)


def _missing_flag(expression) -> Case:
    """A partition key that keeps rows lacking a metric out of the windows over that metric."""
    return Case(When(IsNull(expression, True), then=Value(1)), default=Value(0))


def _weighted_mean(terms: list[tuple[float, object]]):
    """Σ w·x / Σ w over the terms whose x is not NULL; NULL when none is present."""
    numerator = _f(0)
    weights = _f(0)
    for weight, term in terms:
        numerator = numerator + Coalesce(_f(weight) * term, _f(0))
        weights = weights + Case(When(IsNull(term, False), then=_f(weight)), default=_f(0))
    return numerator / NullIf(weights, _f(0))


class RankingQuerySet(models.QuerySet):
    def ranked(self, spec: RankingSpec) -> Self:
        """Rank the checkpoints of this QuerySet (its filters choose the candidates) by `spec`.

        Filter before ranking: relative quantities (observed worst and best, per-metric ranks, win rates, the best
        checkpoint of a training) are computed over the candidates. A plain filter on the ranked QuerySet would only
        hide rows and restart the final rank; use `rows_of` to pick rows while keeping their ranks.

        Annotates `score` (what the method computes), `sort_key` (higher is better), `rank`, `coverage` (how many of
        the chosen metrics the row has), `checkpoints_ranked` (candidate checkpoints of the row's training),
        `achieved_at` (when the last of its values arrived) and, per chosen metric, `value_<metric id>`,
        `stderr_<metric id>` and `part_<metric id>` (what the method averages: the normalised value, the rank on that
        metric, the win rate), and `rows_total`, the number of rows (for paging without a second query). Ordered by
        rank, then training name, step and id.
        Raises RankingError (from `spec.validate`) for a ranking that has no meaning.
        """
        spec.validate()
        values = CTE(self._values_stage(spec), name="ranking_values")
        filled = CTE(_filled_stage(values, spec), name="ranking_filled")
        relative = CTE(_relative_stage(filled, spec), name="ranking_relative")
        scored = CTE(_scored_stage(relative, spec), name="ranking_scored")

        columns = {"score": scored.col.score, "sort_key": scored.col.sort_key, "coverage": scored.col.coverage}
        columns["checkpoints_ranked"] = scored.col.group_size
        columns["achieved_at"] = scored.col.achieved_at
        for index, weighted in enumerate(spec.metrics):
            columns[f"value_{weighted.metric.pk}"] = getattr(scored.col, f"v{index}")
            columns[f"stderr_{weighted.metric.pk}"] = getattr(scored.col, f"e{index}")
            columns[f"part_{weighted.metric.pk}"] = getattr(scored.col, f"x{index}")
        rows = scored.join(self.model._default_manager.all(), pk=scored.col.checkpoint_id).annotate(**columns)
        rows = rows.filter(score__isnull=False)
        if spec.best_only:
            rows = rows.annotate(position_in_training=scored.col.position).filter(position_in_training=1)
        rank = shared_rank(F("sort_key").desc(), dense=spec.ties == Ties.DENSE)
        rows = rows.annotate(rank=rank, rows_total=Window(Count("*")))
        ranked = with_cte(values, filled, relative, scored, select=rows).order_by(
            "rank", "training__name", "step", "pk"
        )
        ranked.spec = spec
        return ranked

    def with_running_best(self, *order_by: str) -> Self:
        """Annotate `best_so_far`: the best score among this row and the rows before it in `order_by`, and
        `is_record`: whether this row's own score is that best (compared on the sort key, which is rounded, so
        methods whose score is not the sort key, such as the normalised mean, still have records).

        For a ranked QuerySet: by "achieved_at" it is a leaderboard's best score as of each date, by "step" (within one
        training) the best score as of each checkpoint. Ordered by `order_by`.
        """
        spec: RankingSpec = self.spec
        running = Window(Max("sort_key"), order_by=[F(name).asc() for name in order_by] + [F("pk").asc()])
        sign = _f(1.0 if spec.higher_is_better else -1.0)
        is_record = Case(
            When(sort_key=running, then=Value(True)), default=Value(False), output_field=models.BooleanField()
        )
        return self.annotate(best_so_far=running * sign, is_record=is_record).order_by(*order_by, "pk")

    def with_pareto_frontier(self, size: str) -> Self:
        """Annotate `size` (the value of the field path `size`, e.g. "training__model__parameter_count") and
        `on_frontier`: whether no other row is at most as large and at least as good, one of them strictly.

        For a ranked QuerySet. A row is on the frontier when its sort key is the best among the rows of its size (so
        ties in size and score both stay) and strictly better than every row of a smaller size. Rows without a size
        are never on it (their windows are kept apart). Ordered by size, then rank.
        """
        known = _missing_flag(F(size))
        by_size = {"partition_by": [known], "order_by": [F(size).asc()]}
        # RANGE frames: rows of an equal size are peers, so the frame up to the current row holds every row of the
        # same size, and excluding the row's group leaves exactly the strictly smaller sizes.
        best_up_to = Window(Max("sort_key"), frame=ValueRange(start=None, end=0), **by_size)
        smaller = ValueRange(start=None, end=0, exclusion=WindowFrameExclusion.GROUP)
        best_smaller = Window(Max("sort_key"), frame=smaller, **by_size)
        on_frontier = Case(
            When(IsNull(F(size), True), then=Value(False)),
            When(LessThan(F("sort_key"), best_up_to), then=Value(False)),
            When(IsNull(best_smaller, True), then=Value(True)),
            When(GreaterThan(F("sort_key"), best_smaller), then=Value(True)),
            default=Value(False),
            output_field=models.BooleanField(),
        )
        return self.annotate(size=F(size), on_frontier=on_frontier).order_by(
            F("size").asc(nulls_last=True), "rank", "training__name", "step", "pk"
        )

    def rows_of(self, checkpoint_ids) -> Self:
        """Only the rows of these checkpoints, keeping the ranks and scores they have among all the rows.

        A plain `filter(pk__in=...)` would narrow the rows before the final rank is computed and so restart it; this
        filters on a window marker instead, which the database applies after ranking.
        """
        ids = list(checkpoint_ids)
        marker = Window(Max(Case(When(pk__in=ids, then=Value(1)), default=Value(0))), partition_by=[F("pk")])
        return self.annotate(kept=marker).filter(kept=1)

    def with_best_values(self) -> Self:
        """Annotate `best_<metric id>`: the best value of each ranked metric among the rows, for highlighting."""
        columns = {}
        for weighted in self.spec.metrics:
            best = Max if weighted.metric.higher_is_better else Min
            columns[f"best_{weighted.metric.pk}"] = Window(best(f"value_{weighted.metric.pk}"))
        return self.annotate(**columns)

    def _clone(self):
        clone = super()._clone()
        if hasattr(self, "spec"):
            clone.spec = self.spec
        return clone

    def _values_stage(self, spec: RankingSpec):
        scores = CurrentScore.objects.filter(metric_id__in=[w.metric.pk for w in spec.metrics])
        if self.query.has_filters():
            scores = scores.filter(checkpoint_id__in=self.values("pk"))
        if len(spec.metrics) == 1:
            # One metric: one row per checkpoint already (CurrentScore is unique on checkpoint and metric), so the
            # grouping below would only cost a sort.
            return (
                scores.values("checkpoint_id", "training_id", "step")
                .annotate(
                    coverage=Value(1),
                    achieved_at=F("finished_at"),
                    v0=F("value"),
                    e0=F("stderr"),
                    o0=F("oriented"),
                )
                .order_by()
            )
        columns, oriented = {}, {}
        for index, weighted in enumerate(spec.metrics):
            this_metric = Q(metric_id=weighted.metric.pk)
            columns[f"v{index}"] = Max("value", filter=this_metric)
            columns[f"e{index}"] = Max("stderr", filter=this_metric)
            # The oriented value from the value, by the metric's sign: one aggregate fewer per metric over every row.
            oriented[f"o{index}"] = F(f"v{index}") * _f(weighted.metric.sign)
        stage = (
            scores.values("checkpoint_id", "training_id", "step")
            .annotate(coverage=Count("metric_id"), achieved_at=Max("finished_at"), **columns)
            .annotate(**oriented)
        )
        if spec.missing == Missing.REQUIRE_ALL:
            stage = stage.filter(coverage=len(spec.metrics))
        return stage.order_by()


def _filled_stage(values: CTE, spec: RankingSpec):
    columns = {}
    for index, weighted in enumerate(spec.metrics):
        oriented = getattr(values.col, f"o{index}")
        # The observed worst and best, over all rows: only where the normalised mean has no baseline or bound.
        if spec.method == Method.NORMALISED_MEAN:
            metric = weighted.metric
            if metric.baseline is None:
                columns[f"lo{index}"] = Window(Min(oriented))
            if (metric.upper_bound if metric.higher_is_better else metric.lower_bound) is None:
                columns[f"hi{index}"] = Window(Max(oriented))
        filled = Coalesce(oriented, Window(Min(oriented))) if spec.missing == Missing.WORST else oriented
        columns[f"f{index}"] = filled
    return values.queryset().annotate(**columns).order_by()


def _normalised(metric, filled, observed_worst, observed_best) -> Case:
    """0 at the random-chance baseline (else the worst observed), 100 at the best bound (else the best observed).

    Works on oriented values, so lower-is-better metrics are inverted; values below the baseline clamp to 0. When the
    best is not above the zero point (every row at or below chance, or all equal), the metric gives 0 to everyone.
    """
    sign = 1.0 if metric.higher_is_better else -1.0
    best_bound = metric.upper_bound if metric.higher_is_better else metric.lower_bound
    zero = _f(sign * metric.baseline) if metric.baseline is not None else observed_worst
    hundred = _f(sign * best_bound) if best_bound is not None else observed_best
    return Case(
        When(IsNull(filled, True), then=NULL),
        When(LessThanOrEqual(hundred, zero), then=_f(0)),
        default=Greatest(_f(0), Least(_f(100), _f(100) * (filled - zero) / (hundred - zero))),
    )


def _relative_stage(filled: CTE, spec: RankingSpec):
    columns = {}
    for index, weighted in enumerate(spec.metrics):
        value = getattr(filled.col, f"f{index}")
        missing = _missing_flag(value)
        if spec.method == Method.NORMALISED_MEAN:
            term = _normalised(
                weighted.metric, value, getattr(filled.col, f"lo{index}"), getattr(filled.col, f"hi{index}")
            )
        elif spec.method == Method.MEAN_RANK:
            rank = Window(Rank(), partition_by=[missing], order_by=value.desc(), output_field=FLOAT)
            term = Case(When(IsNull(value, True), then=NULL), default=rank)
        elif spec.method == Method.WIN_RATE:
            # HELM's win rate: rows beaten, plus half the rows tied, over the other rows that have the metric.
            beaten = Window(Rank(), partition_by=[missing], order_by=value.asc(), output_field=FLOAT) - _f(1)
            tied = Window(Count("*"), partition_by=[missing, value], output_field=FLOAT) - _f(1)
            others = Window(Count(value), output_field=FLOAT) - _f(1)
            term = Case(
                When(IsNull(value, True), then=NULL),
                default=(beaten + _f(0.5) * tied) / NullIf(others, _f(0)),
            )
        else:
            term = value
        columns[f"x{index}"] = Cast(term, FLOAT)
    return filled.queryset().annotate(**columns).order_by()


def _scored_stage(relative: CTE, spec: RankingSpec):
    terms = [
        (w.weight if spec.uses_weights else 1.0, getattr(relative.col, f"x{i}")) for i, w in enumerate(spec.metrics)
    ]
    mean = _weighted_mean(terms)
    # Means reached by different sums differ in the last bits (58⅓ as 100+75+0 or 66⅔+75+33⅓): rounding the sort
    # key to 9 decimals lets them tie as the definition says. A single metric's values are compared exactly.
    rounded = Round(mean, precision=SORT_DECIMALS, output_field=FLOAT)
    if spec.method == Method.METRIC:
        score, sort_key = relative.col.v0, relative.col.x0
    elif spec.method in (Method.MEAN, Method.WEIGHTED_MEAN):
        score, sort_key = mean * _f(1.0 if spec.higher_is_better else -1.0), rounded
    elif spec.method == Method.MEAN_RANK:
        score, sort_key = mean, -rounded
    else:
        score, sort_key = mean, rounded
    stage = relative.queryset().annotate(score=score, sort_key=sort_key)
    # The best checkpoint of a training: highest sort key, then the earlier step. A single metric's sort key is never
    # NULL (a current score has a value), and ordering it exactly as the read model's index does (descending, NULLs
    # first) lets PostgreSQL read the rows in order instead of sorting them.
    order = better_first(F("sort_key"), relative.col.step, nulls_last=spec.method != Method.METRIC)
    return stage.annotate(
        position=Window(RowNumber(), partition_by=[relative.col.training_id], order_by=order),
        group_size=Window(Count("*"), partition_by=[relative.col.training_id]),
    ).order_by()
