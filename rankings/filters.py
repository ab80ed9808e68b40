"""Which checkpoints a ranking considers. Filters narrow the candidates before ranking, so ranks restart at 1."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q

from evaluations.models import Benchmark, CurrentScore, ModelFamily, Tag, Training

from .models import RankedCheckpoint
from .widgets import CheckboxPicker, cached_choices


class CandidateFilter(django_filters.FilterSet):
    # The form answers as the user types in this box (the ranking form's hx-trigger names its class), as Enter does
    # without JS.
    q = django_filters.CharFilter(
        label="Search",
        method="search",
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "class": "search-as-you-type", "autocomplete": "off"}),
    )
    model = django_filters.ModelMultipleChoiceFilter(
        field_name="training__model",
        label="Model",
        queryset=ModelFamily.objects.all(),
        widget=CheckboxPicker(noun="model"),
    )
    training = django_filters.ModelMultipleChoiceFilter(
        queryset=Training.objects.select_related("model").order_by("model__name", "name"),
        widget=CheckboxPicker(noun="training"),
    )
    tag = django_filters.ModelMultipleChoiceFilter(
        field_name="training__model__tags", label="Tag", queryset=Tag.objects.all(), widget=CheckboxPicker(noun="tag")
    )
    category = django_filters.ChoiceFilter(
        label="Evaluated on a benchmark of", method="evaluated_on_category", empty_label="any category"
    )
    evaluated_after = django_filters.DateFilter(label="Evaluated from", method="evaluated_between")
    evaluated_before = django_filters.DateFilter(label="Evaluated until", method="evaluated_between")

    class Meta:
        model = RankedCheckpoint
        fields = ["q", "model", "training", "tag", "category", "evaluated_after", "evaluated_before"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        categories = Benchmark.objects.exclude(category="").order_by("category").values_list("category", flat=True)
        self.filters["category"].extra["choices"] = [(c, c) for c in categories.distinct()]

    @property
    def form(self):
        form = super().form
        if not getattr(form, "has_cached_choices", False):
            for name in ("model", "training", "tag"):
                field = form.fields[name]
                field.widget.choices = cached_choices(name, lambda field=field: field.choices)
            form.has_cached_choices = True
        return form

    @property
    def refinements(self) -> list[str]:
        """Labels of the filters set beyond the name search: the page folds those filters away unless one is set, so
        the ranked rows are not three screens below the form."""
        data = self.form.data
        return [
            str(self.form.fields[name].label)
            for name in self.Meta.fields
            if name != "q" and any(value.strip() for value in data.getlist(name))
        ]

    def search(self, queryset, name: str, value: str):
        words = value.split()
        for word in words:
            queryset = queryset.filter(
                Q(training__name__icontains=word) | Q(training__model__name__icontains=word) | Q(label__icontains=word)
            )
        return queryset

    def evaluated_on_category(self, queryset, name: str, value: str):
        return queryset.filter(
            Exists(CurrentScore.objects.filter(checkpoint=OuterRef("pk"), metric__benchmark__category=value))
        )

    def evaluated_between(self, queryset, name: str, value):
        lookup = "finished_at__date__gte" if name == "evaluated_after" else "finished_at__date__lte"
        return queryset.filter(Exists(CurrentScore.objects.filter(checkpoint=OuterRef("pk"), **{lookup: value})))
