"""The job queue, asking for evaluations of one checkpoint, and cancelling a pending job."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_tables2 import RequestConfig

from ..filters import QueueFilter
from ..forms import RequestEvaluationsForm, TrainingPickerForm
from ..models import Evaluation
from ..requests import request_evaluations
from ..tables import BoundedPaginator, QueueTable
from . import RACE_MESSAGE, next_url
from .coverage import cell_states

PER_PAGE = 50
# Listed by name after a request; beyond this many, "and N more".
NAMED_IN_MESSAGE = 10


def can_cancel(user) -> bool:
    return user.is_staff or user.has_perm("evaluations.change_evaluation")


def queue(request: HttpRequest) -> TemplateResponse:
    jobs = Evaluation.objects.select_related("checkpoint__training__model", "benchmark", "requested_by")
    filters = QueueFilter(request.GET, queryset=jobs, request=request)
    cancellable = can_cancel(request.user)
    table = QueueTable(filters.qs, exclude=() if cancellable else ("actions",))
    RequestConfig(request, paginate={"per_page": PER_PAGE, "paginator_class": BoundedPaginator}).configure(table)
    context = {
        "filter": filters,
        "table": table,
        "holds": Evaluation.objects.queue_counts(),
        "can_request": request.user.has_perm("evaluations.add_evaluation"),
        "can_cancel": cancellable,
    }
    template = "evaluations/queue.html#results" if request.htmx else "evaluations/queue.html"
    response = TemplateResponse(request, template, context, status=200 if filters.is_valid() else 400)
    response["Vary"] = "HX-Request"
    return response


@require_http_methods(["GET", "POST"])
@login_required
def request_page(request: HttpRequest) -> HttpResponse:
    """Choose a checkpoint and benchmarks; each pair without an open job becomes a pending evaluation."""
    if not request.user.has_perm("evaluations.add_evaluation"):
        raise PermissionDenied
    status = 200
    if request.method == "POST":
        form = RequestEvaluationsForm(request.POST)
        if form.is_valid():
            return _requested(request, form)
        status = 400
    else:
        initial = {"checkpoint": request.GET.get("checkpoint"), "benchmarks": request.GET.getlist("benchmark")}
        form = RequestEvaluationsForm(initial=initial)
    chosen = form.chosen_checkpoint()
    # The training whose steps the checkpoint list shows: the chosen checkpoint's, else the one picked (first step).
    source = request.POST if request.method == "POST" else request.GET
    picked = chosen.training_id if chosen else source.get("training", "")
    picker = TrainingPickerForm({"training": picked}, checkpoints=form.checkpoints)
    training = picker.chosen()
    if training is not None:
        form.show_steps_of(training)
    states = {}
    if chosen is not None:
        pairs = cell_states([chosen.pk], list(form.benchmarks))
        states = {benchmark_id: state for (_, benchmark_id), state in pairs.items()}
    context = {"form": form, "checkpoint": chosen, "groups": form.benchmark_groups(states)}
    context |= {"picker": picker, "training": training}
    return TemplateResponse(request, "evaluations/request.html", context, status=status)


def _requested(request: HttpRequest, form: RequestEvaluationsForm) -> HttpResponse:
    checkpoint = form.cleaned_data["checkpoint"]
    try:
        outcome = request_evaluations(form.pairs(), user=request.user, source=Evaluation.Source.WEB)
    except IntegrityError:
        messages.warning(request, RACE_MESSAGE)
        return HttpResponseRedirect(request.get_full_path())
    created = len(outcome.created)
    noun = "evaluation" if created == 1 else "evaluations"
    messages.success(request, f"Requested {created} {noun} of {checkpoint}.")
    if outcome.already_open:
        chosen = {benchmark.pk: benchmark for benchmark in form.cleaned_data["benchmarks"]}
        names = [str(chosen[evaluation.benchmark_id]) for evaluation in outcome.already_open]
        listed = ", ".join(names[:NAMED_IN_MESSAGE])
        more = f" and {len(names) - NAMED_IN_MESSAGE} more" if len(names) > NAMED_IN_MESSAGE else ""
        messages.info(request, f"Already pending or running, not requested again: {listed}{more}.")
    return HttpResponseRedirect(reverse("evaluations:queue"))


@require_POST
@login_required
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a pending job; a running one belongs to its worker and is left alone."""
    if not can_cancel(request.user):
        raise PermissionDenied
    evaluation = get_object_or_404(Evaluation.objects.select_related("checkpoint__training", "benchmark"), pk=pk)
    cancelled = Evaluation.objects.filter(pk=pk, status=Evaluation.Status.PENDING).update(
        status=Evaluation.Status.CANCELLED, finished_at=timezone.now()
    )
    if cancelled:
        messages.success(request, f"Cancelled {evaluation.benchmark} on {evaluation.checkpoint}.")
    else:
        messages.warning(request, f"Only pending jobs can be cancelled: this one is {evaluation.status}.")
    return HttpResponseRedirect(next_url(request, "evaluations:queue"))
