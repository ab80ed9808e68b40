import markdown
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe
from django_tables2 import RequestConfig

from evaluations.labels import mixed_settings, titled

from .. import cache
from ..exports import FORMATS, export_response
from ..filters import CandidateFilter
from ..forms import RankingForm, TableForm
from ..methods import RankingSpec
from ..models import Leaderboard, RankedCheckpoint
from ..paging import RankedPaginator
from ..tables import LeaderboardTable

PER_PAGE = 50


def docs(request: HttpRequest) -> TemplateResponse:
    """docs/rankings.md, the definitions every ranking follows, as a page of the site."""
    text = (settings.BASE_DIR / "docs" / "rankings.md").read_text(encoding="utf-8")
    body = markdown.markdown(text, extensions=["tables"])
    return TemplateResponse(request, "rankings/docs.html", {"body": mark_safe(body)})  # noqa: S308 (our own file)


def leaderboard_list(request: HttpRequest) -> TemplateResponse:
    boards = Leaderboard.objects.visible_to(request.user).prefetch_related("entries__metric__benchmark")
    return TemplateResponse(request, "rankings/leaderboard_list.html", {"leaderboards": boards})


def leaderboard(request: HttpRequest, slug: str) -> HttpResponse:
    board = get_object_or_404(
        Leaderboard.objects.visible_to(request.user).prefetch_related(
            "entries__metric__benchmark", "filter_models", "filter_trainings", "filter_tags"
        ),
        slug=slug,
    )

    def ranking_body():
        return _ranking(request, board=board, candidates=board.candidates(), initial=board.spec())

    if request.GET.get("_export") in FORMATS:  # downloads are not cached
        return _page(request, board, ranking_body())
    return _page(request, board, cache.rendered(request, board, ranking_body))


def ranking(request: HttpRequest) -> HttpResponse:
    """An ad-hoc ranking: everything comes from the query string, through the same code as saved leaderboards."""
    return _page(request, None, _ranking(request, board=None, candidates=RankedCheckpoint.objects.all(), initial=None))


def _ranking(request: HttpRequest, *, board: Leaderboard | None, candidates, initial: RankingSpec | None):
    """The ranking the query string asks for, as the page's body (HTML), or as the export it asks for."""
    form = RankingForm(request.GET, initial_spec=initial)
    spec = form.spec() if form.is_valid() else initial
    filters = CandidateFilter(request.GET, queryset=candidates)
    shown = TableForm(request.GET, metrics=titled(w.metric for w in spec.metrics) if spec else ())
    table = None
    # Settings the query string gets wrong are named; a saved leaderboard's own may have lost their meaning since.
    error = form.problem() or (spec.error() if spec is not None and spec.metrics else None)
    if error and request.GET.get("_export") in FORMATS:
        return HttpResponseBadRequest(f"This ranking cannot be computed: {error}", content_type="text/plain")
    if spec is not None and spec.metrics and not error:
        chosen = filters.qs if filters.is_valid() else candidates
        rows = chosen.ranked(spec).select_related("training__model").with_best_values()
        export = request.GET.get("_export")
        if export in FORMATS:
            return _export(request, export, board, spec, filters, rows)
        # The pinned rows keep the ranks they have among all the rows: the database ranks, then picks them.
        pinned = list(rows.rows_of(shown.pins())) if shown.pins() else []
        table = LeaderboardTable(rows, spec=spec, hidden=shown.hidden(), pinned=pinned, on_screen=True)
        RequestConfig(request, paginate={"per_page": PER_PAGE, "paginator_class": RankedPaginator}).configure(table)
    context = {"board": board, "form": form, "filter": filters, "spec": spec, "table": table, "error": error}
    context["shown"] = shown
    context["unpinned"] = [pk for pk in shown.pins() if pk not in table.pinned_ids] if table else []
    context["mixed_settings"] = mixed_settings(w.metric for w in spec.metrics) if spec else []
    context["export_formats"] = [("csv", "CSV"), ("json", "JSON"), ("md", "Markdown"), ("settings", "Settings (JSON)")]
    context["shows_weights"] = form.shows_weights(spec)
    if request.htmx:  # the results, and the settings the server resolved (the method, the weight inputs)
        parts = ("rankings/includes/ranking.html#results", "rankings/includes/ranking.html#options")
        return "".join(render_to_string(part, context, request) for part in parts)
    return render_to_string("rankings/includes/ranking.html", context, request)


def _page(request: HttpRequest, board: Leaderboard | None, body) -> HttpResponse:
    """The body in the site's layout, or alone for htmx, which swaps the results in place."""
    if isinstance(body, HttpResponse):
        return body
    if request.htmx:
        response = HttpResponse(body)
    else:
        response = TemplateResponse(request, "rankings/leaderboard.html", {"board": board, "body": mark_safe(body)})  # noqa: S308
    response["Vary"] = "HX-Request"
    return response


def _export(request: HttpRequest, fmt: str, board, spec: RankingSpec, filters: CandidateFilter, rows) -> HttpResponse:
    """Every row of the filtered ranking, in the order the page shows (its sort), not only the current page."""
    table = LeaderboardTable(rows, spec=spec, exclude=["compare"])
    RequestConfig(request, paginate=False).configure(table)
    applied = {}
    if filters.is_valid():
        for name, value in filters.form.cleaned_data.items():
            if value:
                applied[name] = (
                    [str(v) for v in value]
                    if isinstance(value, list | tuple) or hasattr(value, "model")
                    else str(value)
                )
    title = board.name if board else "Ad-hoc ranking"
    query = request.GET.copy()
    query["_export"] = "settings"
    settings_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    records = [row.record for row in table.rows]
    return export_response(fmt, title=title, spec=spec, filters=applied, records=records, settings_url=settings_url)
