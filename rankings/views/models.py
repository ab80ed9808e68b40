from django.db.models import Count
from django.http import HttpRequest
from django.template.response import TemplateResponse

from evaluations import views as evaluation_views
from evaluations.labels import titled
from evaluations.models import Metric

from .. import charts, curves
from ..methods import Missing, RankingSpec
from ..models import RankedCheckpoint

CHART_METRICS = 4


def model_detail(request: HttpRequest, pk: int) -> TemplateResponse:
    """The model page of the evaluations app, with results: each training's best checkpoint on the primary metrics
    (ranked by the engine, as leaderboards rank), and the trainings' scores over steps side by side.

    `evaluations` never imports `rankings`, so this view extends that app's page, as the home page does.
    """
    response = evaluation_views.model_detail(request, pk)
    model = response.context_data["model"]
    metrics = titled(
        Metric.objects.filter(is_primary=True, current_scores__training__model=model)
        .exclude(direction=Metric.Direction.UNKNOWN)
        .annotate(evaluated=Count("current_scores"))
        .select_related("benchmark")
        .order_by("-evaluated", "benchmark__slug", "key")
    )
    if not metrics:
        return response
    trainings = list(curves.with_chart_relations(model.trainings.order_by("name")))
    spec = RankingSpec.of(metrics, missing=Missing.AVAILABLE, best_only=True)
    best = RankedCheckpoint.objects.filter(training__model=model).ranked(spec).select_related("training")
    charted = metrics[:CHART_METRICS]
    named = curves.labels(trainings)
    series = curves.series(curves.ranked_rows(trainings, charted), named, charted)
    response.context_data |= {
        "result_spec": spec,
        "best_rows": best,
        "chart_metrics": charted,
        "chart": charts.metric_over_steps(
            charted,
            series,
            curves.best_points(trainings, charted, named),
            focus="",
            log_steps=curves.steps_span_orders_of_magnitude(series),
            **curves.colours(trainings, named, "training"),
        ),
    }
    return response
