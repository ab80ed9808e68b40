"""The ranking controls of a leaderboard page: which metrics, which method, and the rules, all from the query string."""

from django import forms
from django.core.exceptions import ValidationError

from evaluations.labels import titled
from evaluations.models import Metric

from .methods import MAX_WEIGHT, MIN_WEIGHT, Method, Missing, RankingError, RankingSpec, Ties, WeightedMetric
from .widgets import QuickSelectMultiple, cached_choices

MAX_METRICS = 40
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
        widget=QuickSelectMultiple,
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
        # Named among all the metrics listed, so the same task at two few-shot counts reads as two settings.
        metric.widget.choices = cached_choices("metric", lambda: [(m.pk, m.title) for m in titled(metric.queryset)])
        titles = dict(metric.widget.choices)
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


class ParetoForm(forms.Form):
    """The x axis of the Pareto view. Only model size for now: no model in the data records training tokens."""

    x = forms.ChoiceField(label="Size axis", choices=[("parameters", "parameters (model size)")], required=False)

    def size_field(self) -> str:
        """The field path holding each row's size (the form must be valid)."""
        return "training__model__parameter_count"
