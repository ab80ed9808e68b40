"""The ranking controls of a leaderboard page: which metrics, which method, and the rules, all from the query string."""

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Value, When

from evaluations.labels import titled
from evaluations.models import Metric

from .methods import MAX_WEIGHT, MIN_WEIGHT, Method, Missing, RankingError, RankingSpec, Ties, WeightedMetric
from .widgets import CheckboxPicker, cached_names

MAX_METRICS = 40
MAX_PINS = 10  # pinned rows sit above the table on every page: more would push the table off the screen
AUTOMATIC = ""
WEIGHT_RANGE = f"must be a number from {MIN_WEIGHT:g} to {MAX_WEIGHT:g}"


class RankingForm(forms.Form):
    """Ranking settings; `initial` holds a saved leaderboard's own, and the query string overrides them.

    Each chosen metric has a weight field, `weight_<metric id>`. A setting the query string leaves out keeps the
    initial value, and the form shows that value, so the page, its URL and its form always agree.
    """

    metric = forms.ModelMultipleChoiceField(
        queryset=Metric.objects.select_related("benchmark").exclude(direction=Metric.Direction.UNKNOWN),
        required=False,
        label="Metrics",
        widget=CheckboxPicker(noun="metric"),
    )
    # Empty: the saved leaderboard's method, or the one that fits the number of metrics chosen.
    method = forms.ChoiceField(choices=[(AUTOMATIC, "automatic"), *Method.choices], required=False)
    best_only = forms.TypedChoiceField(
        label="Rows",
        choices=[("1", "best checkpoint of each training"), ("0", "every checkpoint")],
        coerce=lambda value: value == "1",
        required=False,
    )
    # A native select cannot wrap its text: "count a missing value as the worst observed" was cut off on a phone.
    missing = forms.ChoiceField(
        label="Missing values",
        choices=[
            (value, "count as the worst observed" if value == Missing.WORST else label)
            for value, label in Missing.choices
        ],
        required=False,
    )
    ties = forms.ChoiceField(choices=Ties.choices, required=False)

    def __init__(self, data=None, *, initial_spec: RankingSpec | None = None):
        self.initial_spec = initial_spec
        shown = initial_spec or RankingSpec(metrics=())
        initial = {
            "metric": [w.metric.pk for w in shown.metrics],
            "method": shown.method if initial_spec is not None else AUTOMATIC,
            "best_only": "1" if shown.best_only else "0",
            "missing": shown.missing,
            "ties": shown.ties,
        }
        # Only the parameters that were given override the initial spec; the rest keeps the leaderboard's settings.
        given = data and (
            any(name in data for name in self.base_fields) or any(key.startswith("weight_") for key in data)
        )
        saved = {str(w.metric.pk): w.weight for w in shown.metrics}
        chosen = data.getlist("metric") if given and "metric" in data else list(saved)
        weights = {f"weight_{pk}": f"{saved.get(pk, 1.0):g}" for pk in dict.fromkeys(chosen)}
        if given:
            data = data.copy()
            for name, value in (initial | weights).items():
                if name != "metric" and data.get(name) in (None, ""):
                    data[name] = value
        super().__init__(data if given else None, initial=initial | weights)
        metric = self.fields["metric"]
        # The picker's options, and each metric's name among all those listed (so the same task at two few-shot
        # counts reads as two settings) for the weight labels: one cache entry, one stamp query.
        picker = cached_names(
            "metric-picker",
            lambda: metric_picker(metric.queryset),
        )
        metric.widget.choices = picker["groups"]
        titles = picker["titles"]
        for name in weights:
            if name.removeprefix("weight_") in titles:
                self.fields[name] = forms.FloatField(
                    label=f"Weight of {titles[name.removeprefix('weight_')]}",
                    min_value=MIN_WEIGHT,
                    max_value=MAX_WEIGHT,
                    required=False,
                    error_messages=dict.fromkeys(["invalid", "min_value", "max_value"], WEIGHT_RANGE),
                    widget=forms.NumberInput(attrs={"step": "any", "class": "weight-input"}),
                )

    @property
    def weight_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith("weight_")]

    def shows_weights(self, spec: RankingSpec | None) -> bool:
        """Whether the weight inputs belong on the page: the ranking uses them, or one of them is wrong."""
        wrong = self.is_bound and any(field.errors for field in self.weight_fields)
        return wrong or (spec is not None and spec.uses_weights and len(spec.metrics) > 1)

    def problem(self) -> str | None:
        """What is wrong with the settings the query string gives, as one sentence naming the field, or None."""
        if not self.is_bound or self.is_valid():
            return None
        for name, messages in self.errors.items():
            label = "" if name == "__all__" else f"{self.fields[name].label or name.replace('_', ' ').capitalize()}: "
            return f"{label}{messages[0]}"
        return None

    def clean_metric(self):
        metrics = self.cleaned_data["metric"]
        if len(metrics) > MAX_METRICS:
            raise ValidationError(f"Choose at most {MAX_METRICS} metrics.")
        return metrics

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        spec = self.spec()
        try:
            spec.validate()
        except RankingError as error:
            raise ValidationError(str(error)) from None
        if not cleaned.get("method") and spec.metrics:
            self.fields["method"].choices = [(AUTOMATIC, f"automatic: {spec.method_label}"), *Method.choices]
        return cleaned

    def spec(self) -> RankingSpec:
        """The spec the form describes: given values over the initial spec."""
        base = self.initial_spec or RankingSpec(metrics=())
        data = self.cleaned_data if self.is_bound else {}
        saved_weights = {w.metric.pk: w.weight for w in base.metrics}
        chosen = list(data.get("metric") or [w.metric for w in base.metrics])
        metrics = tuple(WeightedMetric(m, self._weight(data, m, saved_weights.get(m.pk, 1.0))) for m in chosen)
        method = data.get("method") or base.method
        if not data.get("method") and (method == Method.METRIC) != (len(metrics) == 1):
            # Choosing several metrics without a method means the normalised mean, one metric means itself.
            method = Method.METRIC if len(metrics) == 1 else Method.NORMALISED_MEAN
        best_only = data.get("best_only")
        return RankingSpec(
            metrics=metrics,
            method=method,
            best_only=base.best_only if best_only in (None, "") else best_only,
            missing=data.get("missing") or base.missing,
            ties=data.get("ties") or base.ties,
        )

    @staticmethod
    def _weight(data: dict, metric: Metric, default: float) -> float:
        weight = data.get(f"weight_{metric.pk}")
        return default if weight is None else weight


def metric_picker(metrics) -> dict:
    """From one query: `groups`, the metrics grouped by their benchmark's category (uncategorised last), each labelled
    with its benchmark and name, then (after a tab, shown muted) its few-shot count and task version, so the picker
    always shows the setting; and `titles`, each metric's name among all of them (evaluations.labels.titled)."""
    uncategorised = Case(When(benchmark__category="", then=Value(1)), default=Value(0), output_field=IntegerField())
    order = ["benchmark__category", "benchmark__name", "benchmark__num_fewshot", "benchmark__version", "key"]
    ordered = titled(metrics.order_by(uncategorised, *order))
    groups: dict[str, list[tuple[int, str]]] = {}
    for m in ordered:
        setting = f"{m.benchmark.num_fewshot}-shot" + (f" · v{m.benchmark.version}" if m.benchmark.version else "")
        groups.setdefault(m.benchmark.category.capitalize() or "Uncategorised", []).append(
            (m.pk, f"{m.benchmark.name} · {m.label}\t{setting}")
        )
    return {"groups": list(groups.items()), "titles": {str(m.pk): m.title for m in ordered}}


class IdListField(forms.Field):
    """A list of database ids from repeated parameters; what is not an id is an error naming the field."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        values = [v for v in (value or []) if v != ""]
        if not all(v.isdigit() and len(v) < 19 for v in values):
            raise ValidationError("Give checkpoint ids (whole numbers).")
        return list(dict.fromkeys(int(v) for v in values))


class ColumnsField(forms.MultipleChoiceField):
    """The optional columns; a metric's column that the ranking no longer has (it was deselected) is not an error."""

    def valid_value(self, value) -> bool:
        name, _, pk = value.partition("_")
        return super().valid_value(value) or (name in ("metric", "offered") and pk.isdigit() and len(pk) < 19)


class TableForm(forms.Form):
    """How the table shows the ranking, never what it ranks: which optional columns, and which rows stay pinned.

    Without `columns` every column is shown; with it, only those named (rank, name and score always are). The
    chooser sends `columns=rank` beside its checkboxes, so that unticking every box still reads as a choice, and
    `offered_<id>` for each metric column it offers. The default adds nothing to the URL: the ranking form carries
    `columns` on only once some column is hidden, naming the fixed columns shown and the metric columns hidden.
    """

    FIXED = [("model", "Model"), ("step", "Step"), ("coverage", "Coverage"), ("stderr", "± stderr")]

    columns = ColumnsField(label="Columns", required=False, widget=forms.CheckboxSelectMultiple)
    pin = IdListField(label="Pinned rows", required=False)

    def __init__(self, data=None, *, metrics=()):
        given = data is not None and ("columns" in data or "pin" in data)
        super().__init__(data if given else None)
        self.query = data
        self.metrics = list(metrics)
        self.fields["columns"].choices = [
            ("rank", "Rank"),
            *self.FIXED,
            *((f"metric_{m.pk}", m.title) for m in self.metrics),
        ]

    def clean_pin(self) -> list[int]:
        pins = self.cleaned_data["pin"]
        if len(pins) > MAX_PINS:
            raise ValidationError(f"Pin at most {MAX_PINS} rows.")
        return pins

    def hidden(self) -> set[str]:
        """The optional columns not to render ("stderr": the ± parts); none when `columns` is absent or wrong."""
        if not self.is_bound or "columns" not in self.data or not self.is_valid() and "columns" in self.errors:
            return set()
        given = set(self.cleaned_data["columns"])
        # A metric's column is hidden only where the chooser offered it (`offered_<id>`) and it was not ticked: a
        # metric chosen since then has not been offered, so it gets its column.
        return {
            name
            for name, _ in self.fields["columns"].choices
            if name != "rank"
            and name not in given
            and (not name.startswith("metric_") or f"offered_{name[7:]}" in given)
        }

    def shown(self) -> list[str]:
        """The values of the ticked boxes of the column chooser."""
        hidden = self.hidden()
        return [name for name, _ in self.fields["columns"].choices if name not in hidden]

    def kept_columns(self) -> list[str]:
        """What the ranking form sends on as `columns`: the chooser's choice once made, else nothing (every column)."""
        hidden = self.hidden()
        if not hidden:
            return []
        fixed = [name for name in self.shown() if not name.startswith("metric_")]
        return fixed + [f"offered_{name[7:]}" for name in sorted(hidden) if name.startswith("metric_")]

    def carried(self) -> list[tuple[str, str]]:
        """The page's other parameters, which the column chooser (a form of its own) sends on unchanged."""
        if self.query is None:
            return []
        return [(k, v) for k, values in self.query.lists() if k not in ("columns", "page", "_export") for v in values]

    def pins(self) -> list[int]:
        return self.cleaned_data.get("pin", []) if self.is_bound and "pin" not in self.errors else []

    def problem(self) -> str | None:
        """The first error, naming the field, or None."""
        if not self.is_bound:
            return None
        for name, messages in self.errors.items():
            return f"{self.fields[name].label}: {messages[0]}"
        return None


class ParetoForm(forms.Form):
    """The x axis of the Pareto view. Only model size for now: no model in the data records training tokens."""

    x = forms.ChoiceField(label="Size axis", choices=[("parameters", "parameters (model size)")], required=False)
    # Size is the x axis already, so it is not a colour here; training colours the checkpoints of each training.
    colour_by = forms.ChoiceField(
        label="Colour by",
        choices=[("", "one colour"), ("model", "model family"), ("tag", "tags"), ("training", "training")],
        required=False,
    )

    def size_field(self) -> str:
        """The field path holding each row's size (the form must be valid)."""
        return "training__model__parameter_count"
