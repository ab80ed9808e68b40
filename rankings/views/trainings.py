import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from evaluations.labels import titled
from evaluations.models import Checkpoint, Metric, Training

from .. import charts, curves
from ..methods import Method, Missing, RankingSpec
from ..models import DeploymentSelection, RankedCheckpoint
from ..widgets import CheckboxPicker

MAX_CHART_METRICS = 6
DEFAULT_CHART_METRICS = 4


def _metric_choices(training: Training):
    """Metrics this training has results on (of known direction), the most evaluated first."""
    return (
        Metric.objects.filter(current_scores__training=training)
        .exclude(direction=Metric.Direction.UNKNOWN)
        .annotate(evaluated=Count("current_scores"))
        .select_related("benchmark")
        .order_by("-is_primary", "-evaluated", "benchmark__slug", "key")
    )


def _chosen_metrics(request: HttpRequest, choices: list[Metric]) -> tuple[list[Metric], list[str]]:
    by_id = {str(metric.pk): metric for metric in choices}
    asked = request.GET.getlist("metric")
    unknown = [value for value in asked if value not in by_id]
    chosen = list(dict.fromkeys(by_id[value] for value in asked if value in by_id))[:MAX_CHART_METRICS]
    if not chosen:
        chosen = [metric for metric in choices if metric.is_primary][:DEFAULT_CHART_METRICS] or choices[:1]
    return chosen, unknown


def training(request: HttpRequest, pk: int) -> TemplateResponse:
    training = get_object_or_404(Training.objects.select_related("model"), pk=pk)
    choices = titled(_metric_choices(training))
    chosen, unknown = _chosen_metrics(request, choices)
    if unknown:
        messages.warning(request, "Some chosen metrics have no results for this training and were left out.")
    form = curves.StepChartForm(request.GET)
    overlay = request.GET.get("overlay") == "1"
    siblings = list(training.model.trainings.exclude(pk=training.pk).order_by("name"))
    added = [t.pk for t in form.setting("overlay_training", [])]
    shown_ids = [training.pk, *([t.pk for t in siblings] if overlay else []), *added]
    # Checkboxes, not a Ctrl-click multi-select; the direction is the label's muted part.
    lower = Metric.Direction.LOWER
    labels = [(m.pk, f"{m.title}\tlower is better" if m.direction == lower else m.title) for m in choices]
    picker = CheckboxPicker(choices=labels, noun="metric")
    metric_picker = picker.render("metric", [m.pk for m in chosen], attrs={"id": "chart-metrics"})
    context = {
        "training": training,
        "choices": choices,
        "metric_picker": metric_picker,
        "chosen": chosen,
        "overlay": overlay,
        "siblings": siblings,
        "form": form,
        "config_json": json.dumps(training.config, indent=2, sort_keys=True, ensure_ascii=False),
        "selections": DeploymentSelection.objects.filter(model=training.model).select_related(
            "checkpoint__training", "selected_by"
        ),
    }
    if not chosen:
        context["table"] = _checkpoint_table(training, [], {}, {})
    else:
        method = Method.METRIC if len(chosen) == 1 else Method.NORMALISED_MEAN
        spec = RankingSpec.of(chosen, method=method, missing=Missing.AVAILABLE)
        found = curves.with_chart_relations(Training.objects.filter(pk__in=shown_ids)).in_bulk()
        # The page's own training first (first colour, first in the legend), then in the order they were chosen.
        shown = [found[pk] for pk in dict.fromkeys(shown_ids)]
        named = curves.labels(shown)
        rows = list(curves.ranked_rows(shown, chosen))
        own = {row.pk: row for row in rows if row.training_id == training.pk}
        best = curves.best_points(shown, chosen, named)
        series = curves.series(rows, named, chosen)
        steps = form.setting("steps", "log" if curves.steps_span_orders_of_magnitude(series) else "linear")
        form.settle("steps", steps)
        form.settle("smooth", "0")
        smoothing = form.setting("smooth", 0.0)
        suggestion = (
            RankedCheckpoint.objects.filter(training=training)
            .ranked(RankingSpec.of(chosen, method=method, missing=Missing.AVAILABLE, best_only=True))
            .first()
        )
        context |= {
            "spec": spec,
            "chart": charts.metric_over_steps(
                chosen,
                series,
                best,
                focus=named[training.pk],
                log_steps=steps == "log",
                smoothing=smoothing,
                **curves.colours(shown, named, form.setting("colour_by", "training")),
            ),
            "log_steps": steps == "log",
            "smoothing": smoothing,
            "has_step_zero": any(step == 0 for points in series.values() for step, _ in points),
            "table": _checkpoint_table(training, chosen, own, best, named),
            "suggestion": suggestion,
        }
    return TemplateResponse(request, "rankings/training.html", context)


def _checkpoint_table(
    training: Training, chosen: list[Metric], rows: dict, best: dict, named: dict | None = None
) -> list[tuple]:
    """(checkpoint, ranked row or None, [(value, stderr, metric, is the training's best)]) for every checkpoint."""
    table = []
    for checkpoint in training.checkpoints.order_by("step"):
        row = rows.get(checkpoint.pk)
        cells = []
        for metric in chosen:
            value = getattr(row, f"value_{metric.pk}", None)
            label = (named or {}).get(training.pk, training.name)
            is_best = value is not None and best.get((label, metric.pk), (None,))[0] == checkpoint.step
            cells.append((value, getattr(row, f"stderr_{metric.pk}", None), metric, is_best))
        table.append((checkpoint, row, cells))
    return table


@require_POST
@login_required
@permission_required("rankings.add_deploymentselection", raise_exception=True)
def select_deployment(request: HttpRequest, pk: int) -> HttpResponse:
    checkpoint = get_object_or_404(Checkpoint.objects.select_related("training__model"), pk=pk)
    reason = request.POST.get("reason", "").strip()[:2000]
    DeploymentSelection.select(checkpoint, user=request.user, reason=reason)
    messages.success(request, f"Step {checkpoint.step:,} of {checkpoint.training} is now selected for deployment.")
    return redirect(checkpoint.training)
