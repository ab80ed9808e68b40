from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from evaluations.models import Tag

from .. import charts, curves
from ..filters import CandidateFilter
from ..forms import ParetoForm, RankingForm
from ..models import Leaderboard, RankedCheckpoint
from ..tables import score_label


def pareto(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """Score against model size, with the Pareto frontier the database marks: a saved leaderboard's or an ad-hoc one."""
    board = None
    candidates, initial = RankedCheckpoint.objects.all(), None
    if slug is not None:
        board = get_object_or_404(
            Leaderboard.objects.visible_to(request.user).prefetch_related(
                "entries__metric__benchmark", "filter_models", "filter_trainings", "filter_tags"
            ),
            slug=slug,
        )
        candidates, initial = board.candidates(), board.spec()
    form = RankingForm(request.GET, initial_spec=initial)
    axis = ParetoForm(request.GET)
    filters = CandidateFilter(request.GET, queryset=candidates)
    spec = form.spec() if form.is_valid() else initial
    context = {"board": board, "form": form, "axis": axis, "filter": filters, "spec": spec, "rows": None}
    context["error"] = spec.error() if spec is not None and spec.metrics else None
    # An unbound form (a saved leaderboard opened as it is) keeps the leaderboard's own settings.
    valid = axis.is_valid() and filters.is_valid() and (form.is_valid() or not form.is_bound)
    if valid and spec is not None and spec.metrics and not context["error"]:
        ranked = filters.qs.ranked(spec).select_related("training__model")
        if axis.cleaned_data.get("colour_by") == "tag":
            ranked = ranked.prefetch_related(
                Prefetch("training__model__tags", Tag.objects.order_by("name"), to_attr="sorted_tags")
            )
        rows = list(ranked.with_pareto_frontier(axis.size_field()))
        sized = [row for row in rows if row.size is not None]
        context |= {
            "rows": rows,
            "frontier": [row for row in sized if row.on_frontier],
            "unsized": [row for row in rows if row.size is None],
            "score_label": score_label(spec),
            "chart": charts.pareto(
                sized, y_title=score_label(spec), higher_is_better=spec.higher_is_better, **_colours(sized, axis)
            )
            if sized
            else None,
        }
    return TemplateResponse(request, "rankings/pareto.html", context)


def _colours(rows: list, axis: ParetoForm) -> dict:
    """`charts.pareto` keywords for the colour the form asks for: each row's group label, in the groups' order."""
    by = axis.cleaned_data.get("colour_by") or ""
    if not by:
        return {}
    keyed = {row.pk: curves.group_of(row.training, by) for row in rows}
    labels = dict.fromkeys(label for _, label in sorted(keyed.values(), key=lambda group: group[0]))
    order = {label: index for index, label in enumerate(labels)}
    groups = dict(sorted(((pk, label) for pk, (_, label) in keyed.items()), key=lambda item: order[item[1]]))
    return {"groups": groups, "legend_title": f"colour: {dict(axis.fields['colour_by'].choices)[by]}"}
