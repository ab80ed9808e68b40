"""The ranking controls of a leaderboard page: which metrics, which method, and the rules, all from the query string."""

import math

from django import forms
from django.core.exceptions import ValidationError

from evaluations.labels import titled
from evaluations.models import Metric

from .methods import MAX_WEIGHT, MIN_WEIGHT, Method, Missing, RankingError, RankingSpec, Ties, WeightedMetric
from .widgets import QuickSelectMultiple, cached_choices

MAX_METRICS = 40


class RankingForm(forms.Form):
    """Ranking settings; `initial` holds a saved leaderboard's own, and the query string overrides them.

    Weights come as `weight_<metric id>` parameters next to the chosen metrics.
    """

    metric = forms.ModelMultipleChoiceField(
        queryset=Metric.objects.select_related("benchmark").exclude(direction=Metric.Direction.UNKNOWN),
        required=False,
        label="Metrics",
        widget=QuickSelectMultiple,
    )
    method = forms.ChoiceField(choices=Method.choices, required=False)
    best_only = forms.TypedChoiceField(
        label="Rows",
        choices=[("1", "best checkpoint of each training"), ("0", "every checkpoint")],
        coerce=lambda value: value == "1",
        required=False,
    )
    missing = forms.ChoiceField(label="Missing values", choices=Missing.choices, required=False)
    ties = forms.ChoiceField(choices=Ties.choices, required=False)

    def __init__(self, data=None, *, initial_spec: RankingSpec | None = None):
        self.initial_spec = initial_spec
        # Only the parameters that were given override the initial spec; the rest keeps the leaderboard's settings.
        given = data and (
            any(name in data for name in self.base_fields) or any(key.startswith("weight_") for key in data)
        )
        super().__init__(data if given else None)
        if initial_spec is not None:
            self.initial = {
                "metric": [w.metric.pk for w in initial_spec.metrics],
                "method": initial_spec.method,
                "best_only": "1" if initial_spec.best_only else "0",
                "missing": initial_spec.missing,
                "ties": initial_spec.ties,
            }
        self.query = data
        metric = self.fields["metric"]
        # Named among all the metrics listed, so the same task at two few-shot counts reads as two settings.
        metric.widget.choices = cached_choices("metric", lambda: [(m.pk, m.title) for m in titled(metric.queryset)])

    def clean_metric(self):
        metrics = self.cleaned_data["metric"]
        if len(metrics) > MAX_METRICS:
            raise ValidationError(f"Choose at most {MAX_METRICS} metrics.")
        return metrics

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.spec().validate()
        except RankingError as error:
            raise ValidationError(str(error)) from None
        return cleaned

    def _weight(self, metric: Metric, default: float) -> float:
        raw = self.query.get(f"weight_{metric.pk}") if self.query else None
        if raw in (None, ""):
            return default
        try:
            weight = float(raw)
        except ValueError:
            weight = float("nan")
        if not math.isfinite(weight) or not MIN_WEIGHT <= weight <= MAX_WEIGHT:
            raise ValidationError(
                f"weight_{metric.pk}: the weight of {metric} must be a number from {MIN_WEIGHT:g} to {MAX_WEIGHT:g}, "
                f"got {raw[:20]!r}."
            )
        return weight

    def spec(self) -> RankingSpec:
        """The spec the form describes: given values over the initial spec."""
        base = self.initial_spec or RankingSpec(metrics=())
        data = self.cleaned_data if self.is_bound else {}
        saved_weights = {w.metric.pk: w.weight for w in base.metrics}
        chosen = list(data.get("metric") or [w.metric for w in base.metrics])
        metrics = tuple(WeightedMetric(m, self._weight(m, saved_weights.get(m.pk, 1.0))) for m in chosen)
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


class ParetoForm(forms.Form):
    """The x axis of the Pareto view. Only model size for now: no model in the data records training tokens."""

    x = forms.ChoiceField(label="Size axis", choices=[("parameters", "parameters (model size)")], required=False)

    def size_field(self) -> str:
        """The field path holding each row's size (the form must be valid)."""
        return "training__model__parameter_count"
