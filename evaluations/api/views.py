"""Read endpoints: models, trainings, checkpoints, benchmarks with their metrics, evaluations with their scores."""

import django_filters
from django import forms
from django.db.models import Prefetch, Q
from rest_framework import viewsets

from ..filters import OffsetDateTimeFilter
from ..models import Benchmark, Checkpoint, Evaluation, ModelFamily, Score, Tag, Training
from . import serializers
from .framework import ApiMixin


class IntegerFilter(django_filters.NumberFilter):
    # NumberFilter's decimal field would take 0.5 for a step.
    field_class = forms.IntegerField


class SearchFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", max_length=100, help_text="Words to find in the name.")
    search_fields: tuple[str, ...] = ("name",)

    def search(self, queryset, name: str, value: str):
        for word in value.split():
            condition = Q()
            for field in self.search_fields:
                condition |= Q(**{f"{field}__icontains": word})
            queryset = queryset.filter(condition)
        return queryset


class ModelFilter(SearchFilterSet):
    tag = django_filters.ModelMultipleChoiceFilter(field_name="tags", to_field_name="name", queryset=Tag.objects.all())

    class Meta:
        model = ModelFamily
        fields = ["q", "tag"]


class TrainingFilter(SearchFilterSet):
    search_fields = ("name", "model__name")

    class Meta:
        model = Training
        fields = ["q", "model", "status"]


class CheckpointFilter(django_filters.FilterSet):
    model = django_filters.ModelChoiceFilter(field_name="training__model", queryset=ModelFamily.objects.all())
    step_min = IntegerFilter(field_name="step", lookup_expr="gte")
    step_max = IntegerFilter(field_name="step", lookup_expr="lte")

    class Meta:
        model = Checkpoint
        fields = ["training", "model", "step_min", "step_max", "label"]


class BenchmarkFilter(SearchFilterSet):
    search_fields = ("slug", "name")
    num_fewshot = IntegerFilter()

    class Meta:
        model = Benchmark
        fields = ["q", "slug", "num_fewshot", "version", "category", "is_active"]


class EvaluationFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Evaluation.Status.choices)
    training = django_filters.ModelChoiceFilter(field_name="checkpoint__training", queryset=Training.objects.all())
    model = django_filters.ModelChoiceFilter(
        field_name="checkpoint__training__model", queryset=ModelFamily.objects.all()
    )
    finished_after = OffsetDateTimeFilter(field_name="finished_at", lookup_expr="gte")
    finished_before = OffsetDateTimeFilter(field_name="finished_at", lookup_expr="lt")

    class Meta:
        model = Evaluation
        fields = ["status", "source", "checkpoint", "benchmark", "training", "model", "finished_after"]
        fields += ["finished_before"]


class ModelViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Models (families of trainings)."""

    queryset = ModelFamily.objects.prefetch_related("tags")
    serializer_class = serializers.ModelSerializer
    filterset_class = ModelFilter
    ordering_fields = ["name", "created_at", "parameter_count"]
    ordering = ["name"]


class TrainingViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Trainings: the runs of a model."""

    queryset = Training.objects.select_related("model")
    serializer_class = serializers.TrainingSerializer
    filterset_class = TrainingFilter
    ordering_fields = ["name", "created_at", "started_at"]
    ordering = ["model__name", "name"]


class CheckpointViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Checkpoints: a training's saved weights at a step."""

    queryset = Checkpoint.objects.select_related("training__model")
    serializer_class = serializers.CheckpointSerializer
    filterset_class = CheckpointFilter
    ordering_fields = ["step", "created_at"]
    ordering = ["training_id", "step"]


class BenchmarkViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Benchmarks (a task at a few-shot count and version) with their metrics."""

    queryset = Benchmark.objects.prefetch_related("metrics")
    serializer_class = serializers.BenchmarkSerializer
    filterset_class = BenchmarkFilter
    ordering_fields = ["slug", "name", "created_at"]
    ordering = ["slug", "num_fewshot", "version"]


class EvaluationViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Evaluations (a checkpoint on a benchmark) with their scores, newest first; jobs are pending or running ones."""

    queryset = Evaluation.objects.select_related(
        "checkpoint__training__model", "benchmark", "run_config"
    ).prefetch_related(Prefetch("scores", Score.objects.select_related("metric").order_by("metric__key")))
    serializer_class = serializers.EvaluationSerializer
    filterset_class = EvaluationFilter
    ordering_fields = ["created_at", "finished_at"]
    ordering = ["-pk"]
