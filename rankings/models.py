"""Rankings over the evaluation data: ranked checkpoints, saved leaderboards and deployment selections."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from evaluations.models import Checkpoint, Metric, ModelFamily, Tag, Training

from .methods import MAX_WEIGHT, MIN_WEIGHT, Method, Missing, RankingSpec, Ties, WeightedMetric
from .queries import RankingQuerySet


class RankedCheckpoint(Checkpoint):
    """A checkpoint seen as a row of a ranking: `RankedCheckpoint.objects.filter(...).ranked(spec)`."""

    objects = RankingQuerySet.as_manager()

    class Meta:
        proxy = True


class LeaderboardQuerySet(models.QuerySet):
    def visible_to(self, user) -> "LeaderboardQuerySet":
        """Public leaderboards, and private ones for users allowed to see them."""
        if user.is_authenticated and (user.is_staff or user.has_perm("rankings.view_private_leaderboard")):
            return self
        return self.filter(is_public=True)


class Leaderboard(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    method = models.CharField(max_length=20, choices=Method, default=Method.METRIC)
    best_only = models.BooleanField(
        "best checkpoint only", default=True, help_text="One row per training: its best checkpoint."
    )
    missing = models.CharField("missing values", max_length=20, choices=Missing, default=Missing.REQUIRE_ALL)
    ties = models.CharField(max_length=20, choices=Ties, default=Ties.STANDARD)
    filter_models = models.ManyToManyField(
        ModelFamily, blank=True, related_name="+", verbose_name="models", help_text="Only these models."
    )
    filter_trainings = models.ManyToManyField(
        Training, blank=True, related_name="+", verbose_name="trainings", help_text="Only these trainings."
    )
    filter_tags = models.ManyToManyField(
        Tag, blank=True, related_name="+", verbose_name="tags", help_text="Only models with one of these tags."
    )
    is_public = models.BooleanField("public", default=True)
    display_order = models.IntegerField(default=0, help_text="Lower numbers are listed first.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LeaderboardQuerySet.as_manager()

    class Meta:
        ordering = ["display_order", "name"]
        permissions = [("view_private_leaderboard", "Can view private leaderboards")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("rankings:leaderboard", args=[self.slug])

    def spec(self, **overrides) -> RankingSpec:
        """The ranking this leaderboard defines (`overrides` replace its settings, e.g. best_only=False)."""
        metrics = tuple(WeightedMetric(entry.metric, entry.weight) for entry in self.entries.all())
        options = {"method": self.method, "best_only": self.best_only, "missing": self.missing, "ties": self.ties}
        return RankingSpec(metrics=metrics, **(options | overrides))

    def ranking_error(self) -> str | None:
        """Why this leaderboard's ranking has no meaning, or None when it has one. Saved settings can lose their
        meaning after the admin accepted them (a metric's bounds removed, rows written through the ORM): pages
        show this in the leaderboard's place instead of failing."""
        return self.spec().error()

    def candidates(self) -> RankingQuerySet:
        """The checkpoints this leaderboard ranks: those of its models, trainings and tags (all when none is set)."""
        rows = RankedCheckpoint.objects.all()
        model_ids = [m.pk for m in self.filter_models.all()]
        training_ids = [t.pk for t in self.filter_trainings.all()]
        tag_ids = [t.pk for t in self.filter_tags.all()]
        if model_ids:
            rows = rows.filter(training__model__in=model_ids)
        if training_ids:
            rows = rows.filter(training__in=training_ids)
        if tag_ids:
            rows = rows.filter(training__model__tags__in=tag_ids)
        return rows

    def rows(self, **overrides) -> RankingQuerySet:
        return self.candidates().ranked(self.spec(**overrides))

    def suggest_deployment(self, model: ModelFamily) -> RankedCheckpoint | None:
        """The best checkpoint of `model` on this leaderboard: the candidate for deployment."""
        return self.candidates().filter(training__model=model).ranked(self.spec(best_only=False)).first()


class LeaderboardMetric(models.Model):
    leaderboard = models.ForeignKey(Leaderboard, models.CASCADE, related_name="entries")
    metric = models.ForeignKey(Metric, models.PROTECT, related_name="+")
    weight = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(MIN_WEIGHT), MaxValueValidator(MAX_WEIGHT)],
        help_text=f"From {MIN_WEIGHT:g} to {MAX_WEIGHT:g}.",
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["leaderboard", "metric"], name="metric_once_per_leaderboard"),
            models.CheckConstraint(
                condition=Q(weight__gte=MIN_WEIGHT, weight__lte=MAX_WEIGHT), name="leaderboard_metric_weight_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} × {self.weight:g}"


class DeploymentSelection(models.Model):
    """A checkpoint chosen for deployment; at most one is current per model, and the history is kept."""

    model = models.ForeignKey(ModelFamily, models.CASCADE, related_name="deployment_selections")
    checkpoint = models.ForeignKey(Checkpoint, models.CASCADE, related_name="deployment_selections")
    selected_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    selected_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)
    is_current = models.BooleanField(default=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-selected_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["model"], condition=Q(is_current=True), name="one_current_deployment_per_model"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.checkpoint} for {self.model}"

    @classmethod
    @transaction.atomic
    def select(cls, checkpoint: Checkpoint, *, user=None, reason: str = "") -> "DeploymentSelection":
        """Make `checkpoint` its model's current deployment, ending the previous selection."""
        model = checkpoint.training.model
        now = timezone.now()
        cls.objects.select_for_update().filter(model=model, is_current=True).update(is_current=False, ended_at=now)
        return cls.objects.create(model=model, checkpoint=checkpoint, selected_by=user, reason=reason, selected_at=now)
