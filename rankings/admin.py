from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet

from .methods import RankingError, RankingSpec, WeightedMetric
from .models import DeploymentSelection, Leaderboard, LeaderboardMetric


class LeaderboardMetricFormSet(BaseInlineFormSet):
    """Refuse a leaderboard whose ranking has no meaning, with the reason, before anything is saved."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        chosen = [
            WeightedMetric(form.cleaned_data["metric"], form.cleaned_data.get("weight") or 1.0)
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("metric")
        ]
        settings = {name: self.data.get(name) for name in ("method", "missing", "ties")}
        spec = RankingSpec(metrics=tuple(chosen), **{k: v for k, v in settings.items() if v})
        try:
            spec.validate()
        except RankingError as error:
            raise ValidationError(str(error)) from None


class LeaderboardMetricInline(admin.TabularInline):
    model = LeaderboardMetric
    formset = LeaderboardMetricFormSet
    autocomplete_fields = ["metric"]
    extra = 1
    fields = ["metric", "weight", "order"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("metric__benchmark")


@admin.register(Leaderboard)
class LeaderboardAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "method", "best_only", "missing", "metric_count", "is_public", "display_order"]
    list_editable = ["display_order", "is_public"]
    list_filter = ["method", "is_public", "best_only", "missing"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["filter_models", "filter_trainings", "filter_tags"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [LeaderboardMetricInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "is_public", "display_order"]}),
        ("Ranking", {"fields": ["method", "best_only", "missing", "ties"]}),
        ("Which checkpoints", {"fields": ["filter_models", "filter_trainings", "filter_tags"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(metric_count=Count("entries"))

    @admin.display(description="metrics", ordering="metric_count")
    def metric_count(self, leaderboard: Leaderboard) -> int:
        return leaderboard.metric_count


@admin.register(DeploymentSelection)
class DeploymentSelectionAdmin(admin.ModelAdmin):
    list_display = ["model", "checkpoint", "is_current", "selected_by", "selected_at", "ended_at"]
    list_filter = ["is_current", "model"]
    list_select_related = ["model", "checkpoint__training", "selected_by"]
    search_fields = ["model__name", "checkpoint__training__name", "reason"]
    autocomplete_fields = ["checkpoint"]
    readonly_fields = ["model", "selected_by", "selected_at", "is_current", "ended_at"]
    fields = ["checkpoint", "reason", "model", "selected_by", "selected_at", "is_current", "ended_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        # A selection is history: a new choice is a new selection, never an edit of an old one.
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request, obj: DeploymentSelection, form, change: bool) -> None:
        selection = DeploymentSelection.select(obj.checkpoint, user=request.user, reason=obj.reason)
        obj.pk = selection.pk
