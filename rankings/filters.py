"""Which checkpoints a ranking considers. Filters narrow the candidates before ranking, so ranks restart at 1."""

import django_filters
from django.db.models import Exists, OuterRef, Q

from evaluations.models import CurrentScore, ModelFamily, Tag, Training

from .models import RankedCheckpoint


class CandidateFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Search", method="search", max_length=100)
    model = django_filters.ModelMultipleChoiceFilter(field_name="training__model", queryset=ModelFamily.objects.all())
    training = django_filters.ModelMultipleChoiceFilter(
        queryset=Training.objects.select_related("model").order_by("model__name", "name")
    )
    tag = django_filters.ModelMultipleChoiceFilter(field_name="training__model__tags", queryset=Tag.objects.all())
    evaluated_after = django_filters.DateFilter(label="Evaluated from", method="evaluated_between")
    evaluated_before = django_filters.DateFilter(label="Evaluated until", method="evaluated_between")

    class Meta:
        model = RankedCheckpoint
        fields = ["q", "model", "training", "tag", "evaluated_after", "evaluated_before"]

    def search(self, queryset, name: str, value: str):
        words = value.split()
        for word in words:
            queryset = queryset.filter(
                Q(training__name__icontains=word) | Q(training__model__name__icontains=word) | Q(label__icontains=word)
            )
        return queryset

    def evaluated_between(self, queryset, name: str, value):
        lookup = "finished_at__date__gte" if name == "evaluated_after" else "finished_at__date__lte"
        return queryset.filter(Exists(CurrentScore.objects.filter(checkpoint=OuterRef("pk"), **{lookup: value})))
