"""Scores of trainings over their steps, as the step charts draw them: one labelled line per training, its best
points, and its colour (by training, or grouped by model family, size or tag, as W&B's "group by" does).

The training page and the model page both chart trainings this way; the figure itself is `charts.metric_over_steps`,
and `StepChartForm` holds the controls (plain GET fields, so the URL says what the chart shows).
"""

from django import forms
from django.db.models import Prefetch

from evaluations.models import CurrentScore, Metric, Tag, Training

from . import charts
from .methods import Missing, RankingSpec
from .models import RankedCheckpoint
from .widgets import CheckboxPicker, cached_names

COLOUR_BY = {"training": "training", "model": "model family", "size": "model size", "tag": "tags"}
# Sizes are ordered, so they get an ordered palette, small (dark) to large (light): plotly's "Viridis".
VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"]


def with_chart_relations(trainings):
    """The trainings with what labels and colour groups read: the model and its tags, in one extra query."""
    return trainings.select_related("model").prefetch_related(
        Prefetch("model__tags", Tag.objects.order_by("name"), to_attr="sorted_tags")
    )


def labels(trainings: list[Training]) -> dict[int, str]:
    """Training id → its name in legends and hovers; "model · name" for a name that trainings of several models share
    (as "main" often is)."""
    models_of: dict[str, set] = {}
    for training in trainings:
        models_of.setdefault(training.name, set()).add(training.model_id)
    return {t.pk: f"{t.model.name} · {t.name}" if len(models_of[t.name]) > 1 else t.name for t in trainings}


def series(rows, named: dict[int, str], metrics: list[Metric]) -> dict[str, list]:
    """Label → [(step, {metric id: value})] from ranked rows (the engine's `value_<id>` annotations), in their order."""
    lines: dict[str, list] = {label: [] for label in named.values()}
    for row in rows:
        lines[named[row.training_id]].append((row.step, {m.pk: getattr(row, f"value_{m.pk}") for m in metrics}))
    return lines


def ranked_rows(trainings: list[Training], metrics: list[Metric]):
    """Every checkpoint of the trainings with its values on the metrics, by the engine (available values count)."""
    spec = RankingSpec.of(metrics, missing=Missing.AVAILABLE)
    return RankedCheckpoint.objects.filter(training__in=trainings).ranked(spec).order_by("training_id", "step")


def best_points(trainings: list[Training], metrics: list[Metric], named: dict[int, str]) -> dict[tuple, tuple]:
    """(label, metric id) → (step, value) of each training's best checkpoint on each metric, in one query.

    The engine's rule for a training's best checkpoint on a single metric (evaluations.ranks.better_first).
    """
    best = (
        CurrentScore.objects.filter(training__in=trainings, metric__in=metrics)
        .best_per_training()
        .values_list("training_id", "metric_id", "step", "value")
    )
    return {(named[training], metric): (step, value) for training, metric, step, value in best}


def _size(count: int | None) -> str:
    if count is None:
        return "size not recorded"
    return f"{count / 1e9:.3g}B parameters" if count >= 1e9 else f"{count / 1e6:.3g}M parameters"


def group_of(training: Training, by: str) -> tuple:
    """(sort key, group label) of a training when colouring by `by`."""
    model = training.model
    if by == "training":
        return (training.name,), training.name
    if by == "model":
        return (model.name,), model.name
    if by == "size":
        count = model.parameter_count
        return (count is None, count or 0), _size(count)
    if by == "tag":
        names = [tag.name for tag in getattr(model, "sorted_tags", model.tags.order_by("name"))]
        return (not names, names), ", ".join(names) or "no tags"
    return (), ""


def colours(trainings: list[Training], named: dict[int, str], by: str) -> dict:
    """`metric_over_steps` keywords colouring the trainings: one colour per training, or per group of `by`.

    A group's colour is the same wherever it appears, and the legend, titled by what the colours mean, lists the
    groups instead of the trainings.
    """
    palette = charts.THEME["layout"]["colorway"]
    if by not in COLOUR_BY or by == "training":
        return {"colours": {named[t.pk]: palette[index % len(palette)] for index, t in enumerate(trainings)}}
    keyed = {t.pk: group_of(t, by) for t in trainings}
    # Group labels in their natural order (sizes small to large); the trainings themselves are not reordered.
    ordered = list(dict.fromkeys(label for _, label in sorted(keyed.values())))
    scale = VIRIDIS if by == "size" else palette
    step = max(1, len(scale) // max(1, len(ordered))) if by == "size" else 1
    colour_of = {label: scale[(index * step) % len(scale)] for index, label in enumerate(ordered)}
    return {
        "colours": {named[pk]: colour_of[label] for pk, (_, label) in keyed.items()},
        "groups": {named[pk]: label for pk, (_, label) in keyed.items()},
        "legend_title": f"colour: {COLOUR_BY[by]}",
    }


def steps_span_orders_of_magnitude(lines: dict[str, list]) -> bool:
    """Whether the positive steps charted differ by 100 times or more, where a log step axis is the better default
    (Pythia's 27 checkpoints run from 1 to 143,000, eleven of them at or below 3,000)."""
    return charts.spans_orders_of_magnitude([step for points in lines.values() for step, _ in points if step > 0])


MAX_OVERLAID = 12
SMOOTHING_RANGE = "must be a number from 0 (no smoothing) to 0.99"


def _trainings_by_model() -> list[tuple[str, list[tuple[str, str]]]]:
    """The overlay picker's options: trainings grouped under their model's name, at most 500 in all."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for training in Training.objects.select_related("model").order_by("model__name", "name")[:500]:
        grouped.setdefault(training.model.name, []).append((str(training.pk), training.name))
    return list(grouped.items())


class StepChartForm(forms.Form):
    """How the step chart draws: the step axis, smoothing, the colours, and trainings of any model to overlay.

    Always bound to the query string. A setting left out takes its default, and `settle` writes the default the page
    applied back into the form, so the form shows what the chart draws.
    """

    steps = forms.ChoiceField(
        label="Step axis",
        choices=[("log", "log"), ("linear", "linear")],
        required=False,
        widget=forms.RadioSelect,
    )
    smooth = forms.FloatField(
        label="Smoothing",
        min_value=0,
        max_value=0.99,
        required=False,
        error_messages=dict.fromkeys(["invalid", "min_value", "max_value"], SMOOTHING_RANGE),
        widget=forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "0.99"}),
        help_text="Exponential moving average weight, 0 to 0.99, as in W&B; the raw curve stays faint behind it.",
    )
    colour_by = forms.ChoiceField(label="Colour by", choices=list(COLOUR_BY.items()), required=False)
    overlay_training = forms.ModelMultipleChoiceField(
        queryset=Training.objects.all(),
        label=f"Overlay trainings of any model (up to {MAX_OVERLAID})",
        required=False,
        widget=CheckboxPicker(noun="training"),
    )

    def __init__(self, data, **kwargs):
        super().__init__(data.copy(), **kwargs)
        picker = self.fields["overlay_training"]
        picker.widget.choices = cached_names("overlay-trainings", _trainings_by_model)

    def clean_overlay_training(self):
        chosen = self.cleaned_data["overlay_training"]
        if len(chosen) > MAX_OVERLAID:
            raise forms.ValidationError(f"Overlay at most {MAX_OVERLAID} trainings.")
        return chosen

    def setting(self, name: str, default):
        """The valid value given for `name`, else `default`."""
        self.is_valid()  # an invalid field is left out of cleaned_data, the valid ones stay
        value = self.cleaned_data.get(name)
        return default if value in (None, "") else value

    def settle(self, name: str, value) -> None:
        """Show `value` in the field `name` when the query string did not set it (a default the page applied)."""
        if self.data.get(name) in (None, "") and name not in self.errors:
            self.data[name] = value

    def problems(self) -> list[str]:
        """One sentence per wrong setting, naming its field."""
        return [f"{self.fields[name].label}: {errors[0]}" for name, errors in self.errors.items()]
