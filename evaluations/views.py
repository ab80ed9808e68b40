from django.core.paginator import Paginator
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from .models import Benchmark, Checkpoint, CurrentScore, Evaluation, Metric, ModelFamily, Score, Tag, Training

SUCCEEDED = Evaluation.Status.SUCCEEDED
RANKING_SIZE = 50
HOME_BENCHMARKS = 12
RECENT_EVALUATIONS = 10

# "The latest succeeded evaluation" everywhere on the site: the newest finish wins, and the newer row breaks a tie.
LATEST_FIRST = (F("finished_at").desc(nulls_last=True), F("pk").desc())


def _with_checkpoint_counts(trainings: QuerySet[Training]) -> QuerySet[Training]:
    return trainings.annotate(checkpoint_count=Count("checkpoints"), latest_step=Max("checkpoints__step"))


def _with_evaluated_checkpoints(benchmarks: QuerySet[Benchmark]) -> QuerySet[Benchmark]:
    """Annotate `evaluated_checkpoints` (with a succeeded evaluation) and fetch the metrics with the benchmarks."""
    evaluated = Count("evaluations__checkpoint", filter=Q(evaluations__status=SUCCEEDED), distinct=True)
    return benchmarks.annotate(evaluated_checkpoints=evaluated).prefetch_related("metrics")


def _benchmarks_by_category(benchmarks: QuerySet[Benchmark]) -> QuerySet[Benchmark]:
    """Ordered for grouping by category, uncategorised ones after the named categories."""
    uncategorised = Case(When(category="", then=Value(1)), default=Value(0), output_field=IntegerField())
    return _with_evaluated_checkpoints(benchmarks).order_by(uncategorised, "category", "name", "num_fewshot", "version")


def home(request: HttpRequest) -> TemplateResponse:
    counts = {
        "models": ModelFamily.objects.count(),
        "trainings": Training.objects.count(),
        "checkpoints": Checkpoint.objects.count(),
        "benchmarks": Benchmark.objects.count(),
        "evaluations": Evaluation.objects.count(),
        "scores": Score.objects.count(),
    }
    models = ModelFamily.objects.order_by(F("parameter_count").asc(nulls_last=True), "name").prefetch_related(
        "tags", Prefetch("trainings", queryset=_with_checkpoint_counts(Training.objects.order_by("name")))
    )
    trainings = _with_checkpoint_counts(
        Training.objects.select_related("model").order_by(
            F("model__parameter_count").asc(nulls_last=True), "model__name", "name"
        )
    )
    # The most evaluated first: the home page shows a few, the benchmark list has them all.
    benchmarks = _with_evaluated_checkpoints(Benchmark.objects.filter(is_active=True)).order_by(
        "-evaluated_checkpoints", "name", "num_fewshot", "pk"
    )[:HOME_BENCHMARKS]
    recent = (
        Evaluation.objects.filter(status=SUCCEEDED)
        .select_related("checkpoint__training__model", "benchmark")
        .order_by(*LATEST_FIRST)[:RECENT_EVALUATIONS]
    )
    context = {
        "counts": counts,
        "models": models,
        "trainings": trainings,
        "benchmarks": benchmarks,
        "recent_evaluations": recent,
    }
    return TemplateResponse(request, "home.html", context)


def model_detail(request: HttpRequest, pk: int) -> TemplateResponse:
    model = get_object_or_404(
        ModelFamily.objects.prefetch_related(Prefetch("tags", Tag.objects.order_by("name"))), pk=pk
    )
    trainings = _with_checkpoint_counts(model.trainings.order_by("name"))
    return TemplateResponse(request, "evaluations/model_detail.html", {"model": model, "trainings": trainings})


def benchmark_list(request: HttpRequest) -> TemplateResponse:
    context = {
        "active": _benchmarks_by_category(Benchmark.objects.filter(is_active=True)),
        "inactive": _benchmarks_by_category(Benchmark.objects.filter(is_active=False)),
    }
    return TemplateResponse(request, "evaluations/benchmark_list.html", context)


def benchmark_detail(request: HttpRequest, pk: int) -> TemplateResponse:
    benchmark = get_object_or_404(Benchmark.objects.prefetch_related("metrics"), pk=pk)
    metric = benchmark.primary_metric
    # Pages of the ranking: a page number past either end (or not a number) shows the nearest page.
    page = Paginator(_ranking(metric), RANKING_SIZE).get_page(request.GET.get("page")) if metric else None
    context = {
        "benchmark": benchmark,
        "metric": metric,
        "page": page,
        "coverage": _coverage(benchmark),
    }
    return TemplateResponse(request, "evaluations/benchmark_detail.html", context)


def _coverage(benchmark: Benchmark) -> dict[str, int]:
    """How many checkpoints have a result on `benchmark`, a job open, only failed attempts, or nothing yet."""
    checkpoints = Count("checkpoint", distinct=True)
    states = Evaluation.objects.filter(benchmark=benchmark).aggregate(
        done=Count("checkpoint", filter=Q(status=SUCCEEDED), distinct=True),
        open=Count(
            "checkpoint", filter=Q(status__in=[Evaluation.Status.PENDING, Evaluation.Status.RUNNING]), distinct=True
        ),
        attempted=checkpoints,
    )
    total = Checkpoint.objects.count()
    return states | {"total": total, "missing": total - states["attempted"]}


def _ranking(metric: Metric) -> QuerySet[CurrentScore]:
    """The values that count on `metric`, best first, annotated with `rank` by the site's one rule (evaluations.ranks).

    A metric of unknown direction has no best: its values are listed highest first without a `rank`, as directions
    are set by an admin and never guessed.
    """
    scores = CurrentScore.objects.filter(metric=metric).select_related("checkpoint__training__model")
    if metric.direction == Metric.Direction.UNKNOWN:
        return scores.order_by(F("value").desc(), "checkpoint__training__name", "step", "pk")
    return scores.ranked()
