"""Filters of the coverage matrix (its rows and its columns) and of the job queue."""

from datetime import UTC, timedelta

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django_filters.fields import IsoDateTimeField, ModelChoiceField

from .models import Benchmark, Checkpoint, Evaluation, ModelFamily, Training

UNCATEGORISED = "-"
# The queue's default view keeps finished jobs this long; older ones are a filter away.
RECENT = timedelta(days=7)
# PostgreSQL's limit for a time-zone offset; Python accepts up to ±23:59 (real zones span -12:00 to +14:00).
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)


class OffsetDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time the databases can compare with, in UTC: an offset beyond ±15:59 fails on
    PostgreSQL, a time past 9999-12-31 in UTC on SQLite."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        if abs(parsed.utcoffset()) > MAX_UTC_OFFSET:
            raise forms.ValidationError("The time-zone offset must be between -15:59 and +15:59.", code="invalid")
        try:  # 9999-12-31T23:00-15:00 is past the last datetime once in UTC, as the databases compare it
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("The date and time is out of range in UTC.", code="invalid") from None


class OffsetDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = OffsetDateTimeField


class TrainingChoiceField(ModelChoiceField):
    """Trainings are named within a model: the choices say which model."""

    def label_from_instance(self, training: Training) -> str:
        return f"{training.model.name} · {training.name}"


class TrainingChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = TrainingChoiceField


class CoverageRowFilter(django_filters.FilterSet):
    """Which checkpoints are the rows of the coverage matrix."""

    model = django_filters.ModelChoiceFilter(
        field_name="training__model", queryset=ModelFamily.objects.all(), label="Model", empty_label="All models"
    )
    training = TrainingChoiceFilter(
        queryset=Training.objects.select_related("model").order_by("model__name", "name"), empty_label="All trainings"
    )
    latest_only = django_filters.BooleanFilter(
        label="Latest checkpoint of each training only", widget=forms.CheckboxInput, method="filter_latest_only"
    )

    class Meta:
        model = Checkpoint
        fields = ["model", "training", "latest_only"]

    def filter_latest_only(self, queryset: QuerySet[Checkpoint], name: str, value: bool) -> QuerySet[Checkpoint]:
        if not value:
            return queryset
        later = Checkpoint.objects.filter(training=OuterRef("training"), step__gt=OuterRef("step"))
        return queryset.filter(~Exists(later))


class CoverageColumnFilter(django_filters.FilterSet):
    """Which benchmarks are the columns of the coverage matrix: active ones unless asked otherwise."""

    category = django_filters.ChoiceFilter(empty_label="All categories", method="filter_category")
    include_inactive = django_filters.BooleanFilter(
        label="Include inactive benchmarks", widget=forms.CheckboxInput, method="filter_include_inactive"
    )

    class Meta:
        model = Benchmark
        fields = ["category", "include_inactive"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        categories = Benchmark.objects.order_by("category").values_list("category", flat=True).distinct()
        choices = [(name, name.capitalize()) for name in categories if name]
        if "" in categories:
            choices.append((UNCATEGORISED, "Uncategorised"))
        self.filters["category"].extra["choices"] = choices

    def filter_category(self, queryset: QuerySet[Benchmark], name: str, value: str) -> QuerySet[Benchmark]:
        return queryset.filter(category="" if value == UNCATEGORISED else value)

    def filter_include_inactive(self, queryset: QuerySet[Benchmark], name: str, value: bool) -> QuerySet[Benchmark]:
        return queryset if value else queryset.filter(is_active=True)


class QueueFilter(django_filters.FilterSet):
    """The queue's filters. Without a status: pending, running and failed jobs, and jobs finished recently.

    Imported results are not jobs: they appear in the default view only if they failed, and otherwise on request.
    """

    status = django_filters.ChoiceFilter(
        choices=[("open", "Pending or running"), *Evaluation.Status.choices, ("all", "Any status, any age")],
        empty_label="Open, failed, or finished this week",
        method="filter_status",
    )
    benchmark = django_filters.ModelChoiceFilter(
        queryset=Benchmark.objects.order_by("name", "num_fewshot", "version", "pk"), empty_label="All benchmarks"
    )
    model = django_filters.ModelChoiceFilter(
        field_name="checkpoint__training__model",
        queryset=ModelFamily.objects.all(),
        label="Model",
        empty_label="All models",
    )
    source = django_filters.ChoiceFilter(choices=Evaluation.Source.choices, empty_label="Any source")
    mine = django_filters.BooleanFilter(
        label="Requested by me", widget=forms.CheckboxInput, method="filter_requested_by_me"
    )

    class Meta:
        model = Evaluation
        fields = ["status", "benchmark", "model", "source", "mine"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.request is None or not self.request.user.is_authenticated:
            del self.filters["mine"]

    def filter_status(self, queryset: QuerySet[Evaluation], name: str, value: str) -> QuerySet[Evaluation]:
        if value == "all":
            return queryset
        if value == "open":
            return queryset.filter(status__in=[Evaluation.Status.PENDING, Evaluation.Status.RUNNING])
        return queryset.filter(status=value)

    def filter_requested_by_me(self, queryset: QuerySet[Evaluation], name: str, value: bool) -> QuerySet[Evaluation]:
        return queryset.filter(requested_by=self.request.user) if value else queryset

    def filter_queryset(self, queryset: QuerySet[Evaluation]) -> QuerySet[Evaluation]:
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("status"):
            unfinished_or_failed = Q(
                status__in=[Evaluation.Status.PENDING, Evaluation.Status.RUNNING, Evaluation.Status.FAILED]
            )
            # Imported results never went through the queue: "recently finished" means jobs the workers ran.
            recent_job = Q(finished_at__gte=timezone.now() - RECENT) & ~Q(source=Evaluation.Source.IMPORT)
            queryset = queryset.filter(unfinished_or_failed | recent_job)
        return queryset
