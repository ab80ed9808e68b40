from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from evaluations.formatting import decimals_for
from evaluations.labels import titled
from evaluations.models import Checkpoint, CurrentScore, Metric, Training

from .. import charts
from ..models import Leaderboard, RankedCheckpoint
from ..widgets import QuickSelectMultiple, cached_choices

MAX_COMPARED = 8
CHART_METRICS = 12
# The picker lists this many trainings; more are reachable from the leaderboards' checkboxes.
MAX_TRAININGS = 500


def checkpoint(request: HttpRequest, pk: int) -> TemplateResponse:
    checkpoint = get_object_or_404(Checkpoint.objects.select_related("training__model"), pk=pk)
    placements = []
    boards = Leaderboard.objects.visible_to(request.user).prefetch_related(
        "entries__metric__benchmark", "filter_models", "filter_trainings", "filter_tags"
    )
    # One query per leaderboard for the row and one for the total: leaderboards are few and curated.
    for board in boards:
        if board.entries.all():
            rows = board.rows()
            placements.append((board, rows.rows_of([checkpoint.pk]).first(), rows.count()))
    siblings = checkpoint.training.checkpoints
    neighbour = (
        siblings.filter(step__lt=checkpoint.step).order_by("-step").first()
        or siblings.filter(step__gt=checkpoint.step).order_by("step").first()
    )
    context = {
        "checkpoint": checkpoint,
        "results": checkpoint.current_evaluations(),
        "placements": placements,
        "neighbour": neighbour,
    }
    return TemplateResponse(request, "rankings/checkpoint.html", context)


def compare(request: HttpRequest) -> TemplateResponse:
    """Two to eight checkpoints side by side on every metric they all have, best per row marked, deltas to the first.

    `?checkpoint=<id>` (repeated) picks checkpoints; `?training=<id>` with `?leaderboard=<slug>` picks the best
    checkpoint of each training under that leaderboard's ranking.
    """
    errors = []
    ids = _ids(request.GET.getlist("checkpoint"), errors, "checkpoint")
    training_ids = _ids(request.GET.getlist("training"), errors, "training")
    boards = list(Leaderboard.objects.visible_to(request.user).prefetch_related("entries__metric__benchmark"))
    board = next((b for b in boards if b.slug == request.GET.get("leaderboard")), boards[0] if boards else None)
    if training_ids:
        if board is None or not board.entries.all():
            errors.append("Choosing the best checkpoint of a training needs a leaderboard with metrics.")
        else:
            best = RankedCheckpoint.objects.filter(training__in=training_ids).ranked(board.spec(best_only=True))
            ids += [row.pk for row in best]
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_COMPARED:
        errors.append(f"Compare at most {MAX_COMPARED} checkpoints; the first {MAX_COMPARED} are shown.")
        ids = ids[:MAX_COMPARED]
    found = Checkpoint.objects.select_related("training__model").in_bulk(ids)
    checkpoints = [found[pk] for pk in ids if pk in found]
    if len(checkpoints) < len(ids):
        errors.append("Some of the chosen checkpoints do not exist.")
    context = {"checkpoints": checkpoints, "errors": errors, "leaderboards": boards, "board": board}
    trainings = Training.objects.select_related("model").order_by("model__name", "name")[:MAX_TRAININGS]
    options = cached_choices("compare-trainings", lambda: ((t.pk, f"{t.model.name} · {t.name}") for t in trainings))
    context["training_picker"] = QuickSelectMultiple(attrs={"id": "trainings", "size": 6}, choices=options).render(
        "training", []
    )
    if len(checkpoints) >= 2:
        context |= _side_by_side(checkpoints)
    return TemplateResponse(request, "rankings/compare.html", context)


def _ids(values: list[str], errors: list[str], what: str) -> list[int]:
    ids = []
    for value in values[: 4 * MAX_COMPARED]:
        if value.isdigit() and len(value) < 19:
            ids.append(int(value))
        else:
            errors.append(f"Ignored {what} {value[:30]!r}: not an id.")
    return ids


def _side_by_side(checkpoints: list[Checkpoint]) -> dict:
    """Rows of (metric, cells) for the metrics every checkpoint has; the best cell of a row is computed in SQL, by the
    rule every ranking follows (none for a metric of unknown direction)."""
    position = {checkpoint.pk: index for index, checkpoint in enumerate(checkpoints)}
    scores = (
        CurrentScore.objects.filter(checkpoint__in=position)
        .with_best()
        .select_related("metric__benchmark")
        .order_by("metric__benchmark__name", "metric__benchmark__num_fewshot", "-metric__is_primary", "metric__key")
    )
    rows: dict = {}
    for score in scores:
        cells = rows.setdefault(score.metric, [None] * len(checkpoints))
        cells[position[score.checkpoint_id]] = score
    shared = [(metric, cells) for metric, cells in rows.items() if all(cells)]
    titled(metric for metric, _ in shared)
    table = []
    for metric, cells in shared:
        first = cells[0].value
        # Shown (never saved) with the digits that tell these values apart, by the rule of every table.
        metric.decimals = decimals_for((cell.value for cell in cells), metric.decimals)
        # A metric of unknown direction has no best (`best` is NULL): none of its cells is marked.
        table.append(
            (
                metric,
                [
                    (cell, cell.best is not None and cell.oriented == cell.best, _delta(metric, cell.value - first))
                    for cell in cells
                ],
            )
        )
    charted = [metric for metric, _ in shared if metric.is_primary][:CHART_METRICS]
    values = {metric.pk: [(cell.value, cell.stderr) for cell in cells] for metric, cells in shared if metric in charted}
    labels = [f"{c.training.name} @ {c.step:,}" for c in checkpoints]
    return {
        "table": table,
        "missing_count": len(rows) - len(shared),
        "chart": charts.metric_panels(labels, charted, values) if charted else None,
    }


def _delta(metric: Metric, delta: float) -> tuple[float, str]:
    """(difference to the first checkpoint, "better", "worse", "same" or "" where the direction is unknown).

    Better and worse follow the metric's direction, not the sign: a lower perplexity is better."""
    if delta == 0:
        return delta, "same"
    if metric.direction == Metric.Direction.UNKNOWN:
        return delta, ""
    return delta, "better" if (delta > 0) == metric.higher_is_better else "worse"
