"""The coverage matrix: which checkpoints have results on which benchmarks, and asking for the missing ones."""

from collections import Counter
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from ..filters import CoverageColumnFilter, CoverageRowFilter
from ..forms import CoverageRequestForm, by_category
from ..models import Benchmark, Checkpoint, Evaluation
from ..requests import request_evaluations
from . import RACE_MESSAGE, next_url

ROWS_PER_PAGE = 50
COLUMNS_PER_PAGE = 25

DONE, RUNNING, PENDING, FAILED, MISSING = "done", "running", "pending", "failed", "missing"
# Each state: the symbol drawn in a cell, and what it means (the legend, and the text screen readers get).
STATES = {
    DONE: ("✓", "a succeeded evaluation exists"),
    RUNNING: ("▸", "a worker is running it"),
    PENDING: ("⋯", "requested, waiting for a worker"),
    FAILED: ("✗", "attempted and failed, no result yet"),
    MISSING: ("·", "never evaluated, or only cancelled"),
}


def cell_states(checkpoint_ids: list[int], benchmark_ids: list[int]) -> dict[tuple[int, int], str]:
    """The state of each (checkpoint id, benchmark id) pair, in one query; pairs absent from the result are missing.

    A result wins over an open job (a re-run does not hide it), an open job over a failure.
    """
    status = Evaluation.Status
    counts = (
        Evaluation.objects.filter(checkpoint_id__in=checkpoint_ids, benchmark_id__in=benchmark_ids)
        .order_by()
        .values("checkpoint_id", "benchmark_id")
        .annotate(
            done=Count("pk", filter=Q(status=status.SUCCEEDED)),
            running=Count("pk", filter=Q(status=status.RUNNING)),
            pending=Count("pk", filter=Q(status=status.PENDING)),
            failed=Count("pk", filter=Q(status=status.FAILED)),
        )
    )
    return {
        (row["checkpoint_id"], row["benchmark_id"]): next(
            (state for state in (DONE, RUNNING, PENDING, FAILED) if row[state]), MISSING
        )
        for row in counts
    }


@dataclass(frozen=True)
class Cell:
    benchmark: Benchmark
    state: str

    @property
    def symbol(self) -> str:
        return STATES[self.state][0]


@dataclass(frozen=True)
class Row:
    checkpoint: Checkpoint
    cells: list[Cell]

    @property
    def requestable(self) -> int:
        """Missing cells that can be requested (inactive benchmarks are not offered)."""
        return sum(cell.state == MISSING and cell.benchmark.is_active for cell in self.cells)

    @property
    def done(self) -> int:
        return sum(cell.state == DONE for cell in self.cells)


def coverage(request: HttpRequest) -> TemplateResponse:
    checkpoints = Checkpoint.objects.select_related("training__model").order_by(
        "training__model__name", "training__name", "step", "pk"
    )
    row_filter = CoverageRowFilter(request.GET, queryset=checkpoints)
    column_filter = CoverageColumnFilter(request.GET, queryset=by_category(Benchmark.objects.all()))
    page = Paginator(row_filter.qs, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    column_page = Paginator(column_filter.qs, COLUMNS_PER_PAGE).get_page(request.GET.get("columns"))
    benchmarks = list(column_page)
    states = cell_states([checkpoint.pk for checkpoint in page], [benchmark.pk for benchmark in benchmarks])
    rows = [
        Row(checkpoint, [Cell(b, states.get((checkpoint.pk, b.pk), MISSING)) for b in benchmarks])
        for checkpoint in page
    ]
    context = {
        "column_filter": column_filter,
        "filter_forms": [(row_filter.form, "Rows: checkpoints"), (column_filter.form, "Columns: benchmarks")],
        "page": page,
        "column_page": column_page,
        "benchmarks": benchmarks,
        "active_benchmarks": [benchmark for benchmark in benchmarks if benchmark.is_active],
        "rows": rows,
        "totals": Counter(cell.state for row in rows for cell in row.cells),
        "requestable": sum(row.requestable for row in rows),
        "legend": [(state, symbol, meaning) for state, (symbol, meaning) in STATES.items()],
        "can_request": request.user.has_perm("evaluations.add_evaluation"),
    }
    template = "evaluations/coverage.html#matrix" if request.htmx else "evaluations/coverage.html"
    valid = row_filter.is_valid() and column_filter.is_valid()
    response = TemplateResponse(request, template, context, status=200 if valid else 400)
    response["Vary"] = "HX-Request"
    return response


@require_POST
@login_required
def request_missing(request: HttpRequest) -> HttpResponse:
    """Request an evaluation for every missing cell of the posted rows and columns; open jobs are not duplicated."""
    if not request.user.has_perm("evaluations.add_evaluation"):
        raise PermissionDenied
    back = next_url(request, "evaluations:coverage")
    form = CoverageRequestForm(request.POST)
    if not form.is_valid():
        problems = " ".join(error for errors in form.errors.values() for error in errors)
        messages.error(request, f"Nothing was requested: {problems}")
        return HttpResponseRedirect(back)
    checkpoints, benchmarks = form.cleaned_data["checkpoint"], form.cleaned_data["benchmark"]
    states = cell_states([c.pk for c in checkpoints], [b.pk for b in benchmarks])
    # Open cells go along so that request_evaluations counts them as already pending instead of duplicating them.
    wanted = {MISSING, PENDING, RUNNING} | ({FAILED} if form.cleaned_data["retry_failed"] else set())
    pairs = [(c, b) for c in checkpoints for b in benchmarks if states.get((c.pk, b.pk), MISSING) in wanted]
    try:
        outcome = request_evaluations(pairs, user=request.user, source=Evaluation.Source.WEB)
    except IntegrityError:
        messages.warning(request, RACE_MESSAGE)
        return HttpResponseRedirect(back)
    created, already = len(outcome.created), len(outcome.already_open)
    if created or already:
        noun = "evaluation" if created == 1 else "evaluations"
        messages.success(request, f"Requested {created} {noun} ({already} were already pending).")
    else:
        messages.info(request, "Nothing to request: every cell shown has a result, a job or a failed attempt.")
    return HttpResponseRedirect(back)
