from datetime import timedelta

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from evaluations.labels import mixed_settings, titled

from .. import charts
from ..correlation import MAX_ROWS, rank_correlations, ranks_across
from ..filters import CandidateFilter
from ..forms import RankingForm
from ..models import Leaderboard, RankedCheckpoint
from ..tables import score_label

ACROSS_ROWS = 100


def across(request: HttpRequest) -> TemplateResponse:
    """Each row's rank under each chosen metric side by side, and how much the metrics agree."""
    form = RankingForm(request.GET)
    filters = CandidateFilter(request.GET, queryset=RankedCheckpoint.objects.all())
    context = {"form": form, "filter": filters}
    if form.is_bound and form.is_valid() and len(form.spec().metrics) >= 2:
        spec = form.spec()
        metrics = titled(weighted.metric for weighted in spec.metrics)
        candidates = filters.qs if filters.is_valid() else RankedCheckpoint.objects.all()
        ranked = ranks_across(candidates, metrics, best_only=spec.best_only)
        correlations = rank_correlations(ranked, metrics)
        labels = [m.title for m in metrics]
        index = {m.pk: i for i, m in enumerate(metrics)}
        kendall = [[1.0 if i == j else None for j in range(len(metrics))] for i in range(len(metrics))]
        spearman = [row[:] for row in kendall]
        for c in correlations:
            i, j = index[c.first.pk], index[c.second.pk]
            kendall[i][j] = kendall[j][i] = c.kendall_tau
            spearman[i][j] = spearman[j][i] = c.spearman_rho
        rows = list(ranked.select_related("training__model")[:ACROSS_ROWS])
        context |= {
            "metrics": metrics,
            "mixed_settings": mixed_settings(metrics),
            "rows": [(row, [getattr(row, f"part_{m.pk}") for m in metrics]) for row in rows],
            "total": ranked.count(),
            "best_only": spec.best_only,
            "shown": ACROSS_ROWS,
            "max_rows": MAX_ROWS,
            "correlations": correlations,
            "kendall_chart": charts.heatmap(labels, kendall, "Kendall's τ"),
            "spearman_chart": charts.heatmap(labels, spearman, "Spearman's ρ"),
        }
    elif form.is_bound and form.is_valid():
        context["notice"] = "Choose at least two metrics to compare their rankings."
    return TemplateResponse(request, "rankings/across.html", context)


def progress(request: HttpRequest, slug: str) -> TemplateResponse:
    """The best score of a leaderboard as of each date a result arrived, and the records that moved it."""
    board = get_object_or_404(
        Leaderboard.objects.visible_to(request.user).prefetch_related(
            "entries__metric__benchmark", "filter_models", "filter_trainings", "filter_tags"
        ),
        slug=slug,
    )
    context = {"board": board}
    if board.entries.all():
        running = board.rows(best_only=False).with_running_best("achieved_at")
        # A record: a row whose score is the best so far (the window is filtered after it is computed).
        records = list(running.filter(is_record=True).select_related("training__model"))
        spec = board.spec()
        context |= {
            "spec": spec,
            "records": records,
            "chart": _progress_chart(records, spec) if records else None,
            "bulk_imported": records and _bulk_imported(records),
            "log_scale": charts.spans_orders_of_magnitude([row.best_so_far for row in records]),
        }
    return TemplateResponse(request, "rankings/progress.html", context)


# Results recorded closer together than this came in one import, not over the course of the work.
BULK_IMPORT_SPAN = timedelta(hours=1)


def _bulk_imported(records: list) -> bool:
    return len(records) > 1 and records[-1].achieved_at - records[0].achieved_at < BULK_IMPORT_SPAN


def _progress_chart(records: list, spec) -> dict:
    """Best so far against the time each record was reached, or, when every result arrived in one import (so the
    dates carry no history), against the records' order of arrival."""
    if _bulk_imported(records):
        x, x_title = list(range(1, len(records) + 1)), "record number, in order of arrival"
    else:
        x, x_title = [row.achieved_at for row in records], "reached on"
    return charts.line(
        x, [row.best_so_far for row in records], name="best so far", y_title=score_label(spec), x_title=x_title
    )
