"""The database rankings equal the plain-Python reference of docs/rankings.md on random data with many ties."""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import event, given
from hypothesis import strategies as st

from evaluations.models import Benchmark, Evaluation, Metric, Score
from evaluations.results import ScoreValue, record_result, resolve_checkpoint
from rankings.methods import RankingError, RankingSpec, WeightedMetric
from rankings.models import RankedCheckpoint
from tests.rankings import reference
from tests.rankings.reference import RefCheckpoint, RefEvaluation, RefMetric, RefSpec

pytestmark = pytest.mark.django_db


# Few distinct values, so that ties are frequent; quarters keep sums and means exact in binary floating point.
# Mostly within [0, 1], some outside it (log-likelihoods, values beyond a bound that normalising clamps).
VALUES = (0.0, 0.25, 0.5, 0.75, 1.0) * 2 + (-0.5, 1.5)
STEPS = (0, 1000, 2000, 3000, 4000)
MODELS = ("m0", "m1")
# Plain lower-case names: they sort the same under SQLite's and PostgreSQL's collations.
NAMES = ("amber", "birch", "cedar", "delta")
# (lower, upper): the accuracy-like [0, 1] most often, so that means of several metrics are allowed.
SCALES = ((0.0, 1.0),) * 4 + ((None, None), (0.25, 1.0), (0.0, 0.75), (None, 1.0), (0.0, None), (-0.5, 0.5))
BASELINES = (None, None, 0.25, 0.5, 0.0)
WEIGHTS = (1.0, 2.0, 0.5)
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MetricPlan:
    benchmark: int
    direction: str
    # The direction it is created with; an admin sets `direction` after the results came in when they differ.
    first_direction: str
    lower: float | None
    upper: float | None
    baseline: float | None


@dataclass(frozen=True)
class EvaluationPlan:
    checkpoint: int  # index into World.checkpoints
    benchmark: int
    succeeded: bool
    minute: int  # finish time: few distinct ones, so that ties on it are decided by creation
    values: tuple[tuple[int, float], ...]  # (metric index, value)
    later: str | None = None  # after all results are in, an admin "deletes" it or "toggles" succeeded ⇄ failed


@dataclass(frozen=True)
class World:
    trainings: tuple[tuple[str, str], ...]  # (model name, training name)
    checkpoints: tuple[tuple[int, int], ...]  # (training index, step), in creation order
    benchmarks: int
    metrics: tuple[MetricPlan, ...]
    evaluations: tuple[EvaluationPlan, ...]  # in creation order


@dataclass(frozen=True)
class SpecPlan:
    method: str
    metrics: tuple[tuple[int, float], ...]  # (metric index, weight)
    best_only: bool
    missing: str
    ties: str
    candidates: tuple[str, object]  # how the candidates are filtered


@st.composite
def _metric_plan(draw, benchmark: int) -> MetricPlan:
    lower, upper = draw(st.sampled_from(SCALES))
    baseline = draw(st.sampled_from(BASELINES))
    if (lower is not None and baseline is not None and baseline < lower) or (
        upper is not None and baseline is not None and baseline > upper
    ):
        baseline = None  # Metric.clean keeps the baseline within the bounds
    direction = draw(st.sampled_from(("higher", "higher", "lower")))
    first_direction = draw(st.sampled_from((direction,) * 4 + ("higher", "lower", "unknown")))
    return MetricPlan(benchmark, direction, first_direction, lower, upper, baseline)


@st.composite
def worlds(draw) -> World:
    trainings = draw(
        st.lists(st.tuples(st.sampled_from(MODELS), st.sampled_from(NAMES)), min_size=1, max_size=4, unique=True)
    )
    checkpoints = [
        (index, step)
        for index in range(len(trainings))
        for step in draw(st.lists(st.sampled_from(STEPS), min_size=1, max_size=5, unique=True))
    ]
    checkpoints = draw(st.permutations(checkpoints))  # ids in another order than trainings and steps
    benchmarks = draw(st.integers(1, 3))
    metrics = [draw(_metric_plan(b)) for b in range(benchmarks) for _ in range(draw(st.integers(1, 2)))]
    evaluations = []
    for c in range(len(checkpoints)):
        for b in range(benchmarks):
            own = [i for i, m in enumerate(metrics) if m.benchmark == b]
            # Mostly one evaluation; sometimes none, a history of two, or failed ones.
            for _ in range(draw(st.sampled_from((0, 1, 1, 1, 1, 2)))):
                reported = draw(st.lists(st.sampled_from(own), min_size=1, max_size=len(own), unique=True))
                values = tuple(sorted((i, draw(st.sampled_from(VALUES))) for i in reported))
                succeeded = draw(st.sampled_from((True, True, True, False)))
                later = draw(st.sampled_from((None,) * 8 + ("delete", "toggle")))
                evaluations.append(EvaluationPlan(c, b, succeeded, draw(st.integers(0, 2)), values, later))
    return World(tuple(trainings), tuple(checkpoints), benchmarks, tuple(metrics), tuple(evaluations))


def _allowed_in_a_mean(metrics: tuple[MetricPlan, ...], first: int) -> list[int]:
    """The metrics that may be averaged with `first`: the same direction and the same two set bounds."""
    anchor = metrics[first]
    return [
        i
        for i, m in enumerate(metrics)
        if (m.direction, m.lower, m.upper) == (anchor.direction, anchor.lower, anchor.upper)
    ]


@st.composite
def spec_plans(draw, world: World) -> SpecPlan:
    method = draw(st.sampled_from(reference.METHODS))
    count = len(world.metrics)
    if method == "metric":
        chosen = [draw(st.integers(0, count - 1))]
    elif method in ("mean", "weighted_mean"):
        bounded = [i for i, m in enumerate(world.metrics) if m.lower is not None and m.upper is not None]
        if not bounded:
            method = "normalised_mean"
            chosen = draw(st.lists(st.integers(0, count - 1), min_size=min(2, count), max_size=count, unique=True))
        else:
            first = draw(st.sampled_from(bounded))
            allowed = _allowed_in_a_mean(world.metrics, first)
            others = [i for i in allowed if i != first]
            if others:
                chosen = [
                    first,
                    *draw(st.lists(st.sampled_from(others), min_size=1, max_size=len(others), unique=True)),
                ]
            else:
                chosen = [first]
    else:
        chosen = draw(st.lists(st.integers(0, count - 1), min_size=min(2, count), max_size=count, unique=True))
    weighted = tuple((i, draw(st.sampled_from(WEIGHTS))) for i in chosen)
    candidates = draw(
        st.one_of(
            st.just(("all", None)),
            st.just(("all", None)),
            st.tuples(
                st.just("trainings"),
                st.lists(st.integers(0, len(world.trainings) - 1), min_size=1, unique=True).map(tuple),
            ),
            st.tuples(st.just("step_at_most"), st.sampled_from(STEPS)),
            st.tuples(st.just("model"), st.sampled_from(MODELS)),
        )
    )
    return SpecPlan(
        method=method,
        metrics=weighted,
        best_only=draw(st.booleans()),
        missing=draw(st.sampled_from(("require_all", "available", "worst"))),
        ties=draw(st.sampled_from(("standard", "dense"))),
        candidates=candidates,
    )


@dataclass
class Built:
    checkpoints: list  # Checkpoint, in the world's order
    metrics: list  # Metric, in the world's order
    evaluations: list[RefEvaluation]  # what the database holds, in creation order


def _build(world: World) -> Built:
    benchmarks = [Benchmark.objects.create(slug=f"task-{b}", name=f"Task {b}") for b in range(world.benchmarks)]
    metrics = [
        Metric.objects.create(
            benchmark=benchmarks[plan.benchmark],
            key=f"metric-{i}",
            direction=plan.first_direction,
            baseline=plan.baseline,
        )
        for i, plan in enumerate(world.metrics)
    ]
    checkpoints = [resolve_checkpoint(*world.trainings[training], step) for training, step in world.checkpoints]
    stored: list[tuple[EvaluationPlan, Evaluation]] = []
    for plan in world.evaluations:
        checkpoint, benchmark = checkpoints[plan.checkpoint], benchmarks[plan.benchmark]
        finished = BASE_TIME + timedelta(minutes=plan.minute)
        if plan.succeeded:
            scores = {metrics[i]: ScoreValue(value, abs(value) / 8) for i, value in plan.values}
            result = record_result(checkpoint, benchmark, scores, source="api", finished_at=finished)
            if not result.created:  # the same values again are recognised and not stored twice
                continue
            evaluation = result.evaluation
        else:
            evaluation = Evaluation.objects.create(
                checkpoint=checkpoint, benchmark=benchmark, status=Evaluation.Status.FAILED, finished_at=finished
            )
            Score.objects.bulk_create(
                Score(evaluation=evaluation, metric=metrics[i], value=v, stderr=abs(v) / 8) for i, v in plan.values
            )
        stored.append((plan, evaluation))
    # What an admin may do afterwards: the rankings follow. Bounds set after the results (writes beyond a bound are
    # refused) leave some values outside them, which normalising clamps.
    for metric, plan in zip(metrics, world.metrics, strict=True):
        metric.lower_bound, metric.upper_bound = plan.lower, plan.upper
        Metric.objects.filter(pk=metric.pk).update(lower_bound=plan.lower, upper_bound=plan.upper)
        if metric.direction != plan.direction:
            metric.direction = plan.direction
            metric.save()
    held: list[RefEvaluation] = []
    for plan, evaluation in stored:
        if plan.later == "delete":
            evaluation.delete()
            continue
        if plan.later == "toggle":
            succeeded = evaluation.status != Evaluation.Status.SUCCEEDED
            evaluation.status = Evaluation.Status.SUCCEEDED if succeeded else Evaluation.Status.FAILED
            evaluation.save()
        values = {metrics[i].pk: value for i, value in plan.values}
        held.append(
            RefEvaluation(
                evaluation.checkpoint_id, evaluation.benchmark_id, evaluation.status, evaluation.finished_at, values
            )
        )
    return Built(checkpoints, metrics, held)


def _ref_metric(metric: Metric) -> RefMetric:
    return RefMetric(metric.pk, metric.direction, metric.lower_bound, metric.upper_bound, metric.baseline)


def _candidates(world: World, built: Built, plan: SpecPlan):
    """The filtered QuerySet and the reference's candidates: the same selection."""
    kind, argument = plan.candidates
    pairs = list(zip(built.checkpoints, world.checkpoints, strict=True))
    if kind == "all":
        return RankedCheckpoint.objects.all(), [c for c, _ in pairs]
    if kind == "trainings":
        chosen = [c for c, (training, _) in pairs if training in argument]
        return RankedCheckpoint.objects.filter(training__in={c.training_id for c in chosen}), chosen
    if kind == "step_at_most":
        return RankedCheckpoint.objects.filter(step__lte=argument), [c for c in built.checkpoints if c.step <= argument]
    chosen = [c for c, (training, _) in pairs if world.trainings[training][0] == argument]
    return RankedCheckpoint.objects.filter(training__model__name=argument), chosen


def _check(world: World, built: Built, plan: SpecPlan) -> None:
    metrics = [(built.metrics[i], weight) for i, weight in plan.metrics]
    spec = RankingSpec(
        tuple(WeightedMetric(m, w) for m, w in metrics), plan.method, plan.best_only, plan.missing, plan.ties
    )
    ref_spec = RefSpec(
        tuple((_ref_metric(m), w) for m, w in metrics), plan.method, plan.best_only, plan.missing, plan.ties
    )
    queryset, candidates = _candidates(world, built, plan)
    ref_candidates = [RefCheckpoint(c.pk, c.training_id, c.training.name, c.step) for c in candidates]
    values = reference.current_values(built.evaluations)

    expected = reference.rank(ref_candidates, values, ref_spec)
    actual = list(queryset.ranked(spec))
    event(f"{plan.method}, {plan.missing}, best only {plan.best_only}: {'some' if expected else 'no'} rows")
    event(f"shared ranks: {len({r.rank for r in expected}) < len(expected)}")
    event(f"metrics averaged: {len(metrics)}")

    assert [(r.pk, r.rank, r.coverage, r.checkpoints_ranked) for r in actual] == [
        (r.checkpoint, r.rank, r.coverage, r.checkpoints_ranked) for r in expected
    ]
    for row, wanted in zip(actual, expected, strict=True):
        assert math.isclose(row.score, wanted.score, rel_tol=1e-9, abs_tol=1e-9), (row.pk, row.score, wanted.score)
        for metric, _ in metrics:
            value = values.get((row.pk, metric.pk))
            assert getattr(row, f"value_{metric.pk}") == value
            assert getattr(row, f"stderr_{metric.pk}") == (None if value is None else abs(value) / 8)


class _Rollback(Exception):
    """Raised at the end of an example to undo its data."""


def _in_savepoint(check) -> None:
    """Run `check` inside a savepoint that is always rolled back, so examples never see each other's data."""
    try:
        with transaction.atomic():
            check()
            raise _Rollback
    except _Rollback:
        pass


@given(data=st.data())
def test_database_ranking_equals_the_reference(data):
    world = data.draw(worlds(), label="world")
    plans = data.draw(st.lists(spec_plans(world), min_size=1, max_size=3), label="specs")

    def check():
        built = _build(world)
        for plan in plans:
            _check(world, built, plan)

    _in_savepoint(check)


@given(
    method=st.sampled_from(reference.METHODS),
    metrics=st.lists(
        st.tuples(st.sampled_from(("higher", "lower", "unknown")), st.sampled_from(SCALES)), min_size=1, max_size=4
    ),
)
def test_a_ranking_is_refused_exactly_when_the_definitions_refuse_it(method, metrics):
    def check():
        benchmark = Benchmark.objects.create(slug="task", name="Task")
        saved = [
            Metric.objects.create(benchmark=benchmark, key=f"m{i}", direction=d, lower_bound=lo, upper_bound=up)
            for i, (d, (lo, up)) in enumerate(metrics)
        ]
        spec = RankingSpec(tuple(WeightedMetric(m, 2.0) for m in saved), method)
        refused = reference.refusal(RefSpec(tuple((_ref_metric(m), 2.0) for m in saved), method))
        if refused is None:
            RankedCheckpoint.objects.ranked(spec)
        else:
            pointer = next((word for word in ("normalised mean", "direction") if word in refused), None)
            with pytest.raises(RankingError, match=pointer):
                RankedCheckpoint.objects.ranked(spec)

    _in_savepoint(check)
