"""Rankings over HTTP: saved leaderboards, their ranked rows, and ad-hoc rankings.

The rows come from exactly what the HTML pages use (`views.leaderboards._ranking`): the RankingForm reads the
ranking settings from the query string over the leaderboard's own, the CandidateFilter chooses the candidates, and
`candidates.ranked(spec)` ranks them, so the API and the page show the same rows for the same parameters. Where the
page falls back silently (an invalid form or filter), the API answers 400 with the reasons.
"""

from django.db.models import F, Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluations.api.framework import ApiMixin, PageNumberPagination
from evaluations.api.serializers import BenchmarkRefSerializer
from evaluations.labels import mixed_settings, titled

from . import cache
from .filters import CandidateFilter
from .forms import RankingForm
from .methods import Method, Missing, RankingError, RankingSpec, Ties
from .models import Leaderboard, LeaderboardMetric, RankedCheckpoint
from .paging import RankedPaginator

# The tables' tie-breakers (rankings.tables): the same order as the page for the same sort.
TIE_BREAKERS = ("rank", "training__name", "step", "pk")
SORT_FIELDS = {"rank": "rank", "score": "score", "step": "step", "training": "training__name"}
ORDERINGS = {name: F(field).asc() for name, field in SORT_FIELDS.items()}
ORDERINGS |= {f"-{name}": F(field).desc() for name, field in SORT_FIELDS.items()}


class RankedMetricSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="metric.pk")
    key = serializers.CharField(source="metric.key")
    name = serializers.CharField(source="metric.label")
    title = serializers.CharField(
        source="metric.title",
        help_text="The benchmark and metric as the page's column names them, with the few-shot count and version "
        "where the same task is there in another setting.",
    )
    direction = serializers.CharField(source="metric.direction")
    benchmark = BenchmarkRefSerializer(source="metric.benchmark")
    weight = serializers.FloatField()


class RankingSettingsSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=Method.choices)
    metrics = RankedMetricSerializer(many=True)
    best_only = serializers.BooleanField(help_text="One row per training: its best checkpoint.")
    missing = serializers.ChoiceField(choices=Missing.choices)
    ties = serializers.ChoiceField(choices=Ties.choices)
    higher_is_better = serializers.BooleanField(help_text="Whether a higher `score` is better.")
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="What a reader should know before trusting the ranking, e.g. that it combines one task at "
        "different few-shot counts or versions.",
    )


class LeaderboardSerializer(serializers.ModelSerializer):
    metrics = RankedMetricSerializer(source="entries", many=True, read_only=True)
    filter_models = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    filter_trainings = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    filter_tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Leaderboard
        fields = ["slug", "name", "description", "method", "best_only", "missing", "ties", "metrics"]
        fields += ["filter_models", "filter_trainings", "filter_tags", "is_public", "created_at", "updated_at"]


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CheckpointRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    step = serializers.IntegerField()
    label = serializers.CharField()


class RowValueSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    stderr = serializers.FloatField(allow_null=True)
    part = serializers.FloatField(
        allow_null=True, help_text="What the method averages: the normalised value, the rank, the win rate."
    )


class RankedRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    coverage = serializers.IntegerField(help_text="How many of the ranked metrics this row has.")
    checkpoints_ranked = serializers.IntegerField(help_text="Candidate checkpoints of the row's training.")
    achieved_at = serializers.DateTimeField(allow_null=True, help_text="When the last of its values arrived.")
    checkpoint = CheckpointRefSerializer()
    training = NamedRefSerializer()
    model = NamedRefSerializer()
    values = serializers.DictField(child=RowValueSerializer(), help_text="By metric id.")


class RankedPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    ranking = RankingSettingsSerializer()
    results = RankedRowSerializer(many=True)


def _row(row: RankedCheckpoint, spec: RankingSpec) -> dict:
    values = {
        str(w.metric.pk): {
            "key": w.metric.key,
            "value": getattr(row, f"value_{w.metric.pk}"),
            "stderr": getattr(row, f"stderr_{w.metric.pk}"),
            "part": getattr(row, f"part_{w.metric.pk}"),
        }
        for w in spec.metrics
    }
    training = row.training
    return {
        "rank": row.rank,
        "score": row.score,
        "coverage": row.coverage,
        "checkpoints_ranked": row.checkpoints_ranked,
        "achieved_at": row.achieved_at,
        "checkpoint": {"id": row.pk, "step": row.step, "label": row.label},
        "training": {"id": training.pk, "name": training.name},
        "model": {"id": training.model.pk, "name": training.model.name},
        "values": values,
    }


def _settings(spec: RankingSpec) -> dict:
    titled(w.metric for w in spec.metrics)
    return {
        "method": spec.method,
        "metrics": spec.metrics,
        "best_only": spec.best_only,
        "missing": spec.missing,
        "ties": spec.ties,
        "higher_is_better": spec.higher_is_better,
        "warnings": mixed_settings(w.metric for w in spec.metrics),
    }


class RankedPagination(PageNumberPagination):
    django_paginator_class = RankedPaginator


def _form_errors(errors) -> dict:
    return {("" if field == "__all__" else field): list(messages) for field, messages in errors.items()}


def ranked_rows(request, view, *, candidates, initial: RankingSpec | None) -> dict:
    """One page of the ranking the query string asks for, as `views.leaderboards._ranking` ranks it for the page."""
    form = RankingForm(request.query_params, initial_spec=initial)
    if form.is_bound and not form.is_valid():
        raise ValidationError(_form_errors(form.errors))
    spec = form.spec() if form.is_bound else initial
    filters = CandidateFilter(request.query_params, queryset=candidates)
    if not filters.is_valid():
        raise ValidationError(_form_errors(filters.errors))
    if spec is None:
        raise ValidationError({"metric": ["Choose at least one metric to rank by."]})
    try:
        rows = filters.qs.ranked(spec).select_related("training__model")
    except RankingError as error:
        raise ValidationError({"": [str(error)]}) from None
    ordering = request.query_params.get("ordering")
    if ordering:
        if ordering not in ORDERINGS:
            raise ValidationError({"ordering": [f"Order by one of {', '.join(ORDERINGS)}."]})
        rows = rows.order_by(ORDERINGS[ordering], *TIE_BREAKERS)
    paginator = RankedPagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    return {
        "count": paginator.page.paginator.count,
        "next": paginator.get_next_link(),
        "previous": paginator.get_previous_link(),
        "ranking": RankingSettingsSerializer(_settings(spec)).data,
        "results": [_row(row, spec) for row in page],
    }


RANKING_PARAMETERS = [
    OpenApiParameter(
        "metric",
        int,
        many=True,
        description=(
            "Metric ids to rank by (repeat the parameter). A metric's weight for the weighted and normalised means "
            "is given as `weight_<metric id>=<positive number>`, e.g. `weight_12=2`."
        ),
    ),
    OpenApiParameter("method", str, enum=Method.values, description="How the metrics combine into the score."),
    OpenApiParameter("best_only", str, enum=["1", "0"], description="1: the best checkpoint of each training only."),
    OpenApiParameter("missing", str, enum=Missing.values, description="What a missing value counts as."),
    OpenApiParameter("ties", str, enum=Ties.values, description="How tied scores are ranked."),
    OpenApiParameter("q", str, description="Words to find in the training, model or checkpoint label."),
    OpenApiParameter("model", int, many=True, description="Only checkpoints of these models (ids)."),
    OpenApiParameter("training", int, many=True, description="Only checkpoints of these trainings (ids)."),
    OpenApiParameter("tag", int, many=True, description="Only models with one of these tags (ids)."),
    OpenApiParameter("evaluated_after", OpenApiTypes.DATE, description="Only checkpoints evaluated on or after."),
    OpenApiParameter("evaluated_before", OpenApiTypes.DATE, description="Only checkpoints evaluated on or before."),
    OpenApiParameter("ordering", str, enum=list(ORDERINGS), description="Sort the ranked rows (default: rank)."),
    OpenApiParameter("page", int, description="Page number, from 1."),
    OpenApiParameter("page_size", int, description=f"Rows per page, at most {PageNumberPagination.max_page_size}."),
]


class LeaderboardViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Saved leaderboards visible to you (private ones need the permission to view them)."""

    serializer_class = LeaderboardSerializer
    lookup_field = "slug"
    ordering_fields = ["name", "display_order", "updated_at"]
    ordering = ["display_order", "name"]

    def get_queryset(self):
        entries = LeaderboardMetric.objects.select_related("metric__benchmark")
        return (
            Leaderboard.objects.visible_to(self.request.user)
            .prefetch_related("filter_models", "filter_trainings", "filter_tags")
            .prefetch_related(Prefetch("entries", queryset=entries))
        )

    @extend_schema(
        parameters=RANKING_PARAMETERS,
        responses={200: RankedPageSerializer},
        filters=False,
        description=(
            "The leaderboard's ranked rows, as on its page: its own settings, which the ranking parameters "
            "override, and the page's filters. Rows are ranked after filtering (ranks restart at 1)."
        ),
    )
    def rows(self, request, slug: str):
        board = get_object_or_404(self.get_queryset(), slug=slug)
        # Cached like the leaderboard's page, and dropped by the same changes (rankings.cache).
        body = cache.rendered(
            request,
            board,
            lambda: ranked_rows(request, self, candidates=board.candidates(), initial=board.spec()),
            kind="api",
        )
        return Response(body)


class RankingView(ApiMixin, APIView):
    @extend_schema(
        operation_id="rankings_retrieve",
        parameters=RANKING_PARAMETERS,
        responses={200: RankedPageSerializer},
        description="An ad-hoc ranking of every checkpoint, with the parameters of the site's /rank/ page.",
    )
    def get(self, request):
        return Response(ranked_rows(request, self, candidates=RankedCheckpoint.objects.all(), initial=None))
