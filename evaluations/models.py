"""What was trained, what it was evaluated on, and what came out.

Models → trainings → checkpoints → evaluations (checkpoint × benchmark) → one score per metric.
The raw tables are the history and the source of truth: an evaluation is never edited into another result,
a newer one is added and the latest succeeded evaluation of a (checkpoint, benchmark) is the one that counts.
"""

import math

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Count, F, OuterRef, Prefetch, Q, Subquery
from django.urls import reverse

from .ranks import CurrentScoreQuerySet

# What a stored score may be: zero, or a magnitude from SCORE_SMALLEST to SCORE_LARGEST. Rankings do arithmetic on
# scores in SQL (weights up to 1,000 times up to 40 metrics, normalising by bounds), and PostgreSQL raises an error
# on a double that overflows or underflows, which would take every page showing the metric down: 1.7e308 times a
# weight of 2 overflows; 5e-324 times a weight of 0.5 underflows. Within these limits no ranking can reach either,
# and no real score comes near them (a perplexity of a model at step 0 is about 4e6; log-likelihoods are ~1e4).
# The CHECK below also rejects ±inf on both databases and NaN on PostgreSQL (where NaN sorts above every number);
# SQLite stores NaN as NULL, which NOT NULL rejects.
SCORE_LARGEST = 1e15
SCORE_SMALLEST = 1e-100


def validate_finite(value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValidationError("%(value)s is not a finite number.", code="not_finite", params={"value": value})


def validate_magnitude(value: float | None) -> None:
    """Refuse a value a ranking could not compute with (see SCORE_LARGEST)."""
    validate_finite(value)
    if value is not None and value != 0 and not SCORE_SMALLEST <= abs(value) <= SCORE_LARGEST:
        raise ValidationError(
            "%(value)s is out of range: a score is 0 or of magnitude 1e-100 to 1e15.",
            code="out_of_range",
            params={"value": value},
        )


def _in_range(field: str) -> Q:
    """The CHECK form of validate_magnitude."""
    return (
        Q(**{field: 0})
        | Q(**{f"{field}__gte": SCORE_SMALLEST, f"{field}__lte": SCORE_LARGEST})
        | Q(**{f"{field}__lte": -SCORE_SMALLEST, f"{field}__gte": -SCORE_LARGEST})
    )


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True, help_text="Lower-case words joined by hyphens, e.g. 'deduped'.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelFamily(models.Model):
    """The thing being trained, e.g. `pythia-1.4b`: its runs are trainings."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="models")
    parameter_count = models.PositiveBigIntegerField(null=True, blank=True, help_text="Number of parameters.")
    architecture = models.CharField(max_length=100, blank=True)
    license = models.CharField(max_length=100, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="Anything else worth keeping, as JSON.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "model"
        verbose_name_plural = "models"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("evaluations:model", args=[self.pk])


class Training(models.Model):
    """One run of a model, e.g. `pythia-1.4b-deduped`."""

    class Status(models.TextChoices):
        PLANNED = "planned"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"
        STOPPED = "stopped"

    model = models.ForeignKey(ModelFamily, models.CASCADE, related_name="trainings")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    config = models.JSONField(default=dict, blank=True, help_text="Hyperparameters and settings, as JSON.")
    status = models.CharField(max_length=20, choices=Status, default=Status.FINISHED)
    started_at = models.DateTimeField(null=True, blank=True)
    url = models.URLField(max_length=500, blank=True, help_text="Where the run lives: a dashboard, a repository.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model__name", "name"]
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="training_name_unique_per_model")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        # The training and checkpoint pages show rankings too, so the rankings app serves them.
        return reverse("rankings:training", args=[self.pk])


class Checkpoint(models.Model):
    training = models.ForeignKey(Training, models.CASCADE, related_name="checkpoints")
    step = models.BigIntegerField(validators=[MinValueValidator(0)])
    label = models.CharField(max_length=100, blank=True, help_text="Optional, e.g. 'final' or 'release'.")
    storage_uri = models.CharField(max_length=1000, blank=True, help_text="Where the weights are stored.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["training", "step"]
        constraints = [
            models.UniqueConstraint(fields=["training", "step"], name="checkpoint_step_unique_per_training"),
            models.CheckConstraint(condition=Q(step__gte=0), name="checkpoint_step_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.training.name} @ step {self.step}"

    def get_absolute_url(self) -> str:
        return reverse("rankings:checkpoint", args=[self.pk])

    def current_evaluations(self) -> "models.QuerySet[Evaluation]":
        """The evaluation that counts for each benchmark, with its scores and `evaluation_count` (its history size)."""
        history_size = (
            Evaluation.objects.filter(checkpoint=OuterRef("checkpoint"), benchmark=OuterRef("benchmark"))
            .order_by()
            .values("benchmark")
            .annotate(total=Count("pk"))
            .values("total")
        )
        return (
            self.evaluations.filter(pk__in=CurrentScore.objects.filter(checkpoint=self).values("evaluation_id"))
            .annotate(evaluation_count=Subquery(history_size))
            .select_related("benchmark")
            .prefetch_related(
                Prefetch(
                    "scores", Score.objects.select_related("metric").order_by("-metric__is_primary", "metric__key")
                )
            )
            .order_by("benchmark__name", "benchmark__num_fewshot", "benchmark__version", "benchmark__pk")
        )


class Benchmark(models.Model):
    """A task at a given few-shot count and version: `arc_easy` 0-shot and 5-shot are two benchmarks."""

    slug = models.CharField(
        max_length=200, help_text="The harness task name, e.g. 'arc_easy' or 'hendrycksTest-anatomy'."
    )
    num_fewshot = models.PositiveSmallIntegerField("few-shot count", default=0)
    version = models.CharField(max_length=50, blank=True, help_text="The task version reported by the harness.")
    name = models.CharField(max_length=200, help_text="How people call it, e.g. 'ARC (Easy)'.")
    description = models.TextField(blank=True)
    url = models.URLField("link", max_length=500, blank=True)
    category = models.CharField(max_length=100, blank=True, help_text="e.g. 'reasoning', 'knowledge', 'bias'.")
    group = models.CharField(
        max_length=200,
        blank=True,
        help_text="The harness group this task is a member of, e.g. 'mmlu_stem' for 'mmlu_anatomy'; empty for none.",
    )
    is_active = models.BooleanField("active", default=True, help_text="Inactive benchmarks are hidden from pickers.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug", "num_fewshot", "version"]
        constraints = [
            models.UniqueConstraint(fields=["slug", "num_fewshot", "version"], name="benchmark_identity_unique"),
        ]

    def __str__(self) -> str:
        version = f" v{self.version}" if self.version else ""
        return f"{self.name} ({self.num_fewshot}-shot{version})"

    def get_absolute_url(self) -> str:
        return reverse("evaluations:benchmark", args=[self.pk])

    @property
    def primary_metric(self) -> "Metric | None":
        return next((metric for metric in self.metrics.all() if metric.is_primary), None)


class Metric(models.Model):
    class Direction(models.TextChoices):
        HIGHER = "higher", "higher is better"
        LOWER = "lower", "lower is better"
        UNKNOWN = "unknown", "unknown: set it"

    benchmark = models.ForeignKey(Benchmark, models.CASCADE, related_name="metrics")
    key = models.CharField(
        max_length=200, help_text="As the harness reports it, with its filter: 'acc', 'exact_match,strict-match'."
    )
    name = models.CharField("display name", max_length=200, blank=True)
    direction = models.CharField(max_length=10, choices=Direction, default=Direction.HIGHER)
    is_primary = models.BooleanField("primary", default=False)
    lower_bound = models.FloatField(null=True, blank=True, validators=[validate_magnitude])
    upper_bound = models.FloatField(null=True, blank=True, validators=[validate_magnitude])
    baseline = models.FloatField(
        "random-chance baseline",
        null=True,
        blank=True,
        validators=[validate_magnitude],
        help_text="The score of random guessing; normalised scores map it to 0.",
    )
    decimals = models.PositiveSmallIntegerField(default=3, help_text="Decimals shown in tables.")

    class Meta:
        ordering = ["benchmark", "-is_primary", "key"]
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "key"], name="metric_key_unique_per_benchmark"),
            models.UniqueConstraint(
                fields=["benchmark"],
                condition=Q(is_primary=True),
                name="one_primary_metric_per_benchmark",
                violation_error_message="A benchmark has exactly one primary metric.",
            ),
            models.CheckConstraint(
                condition=Q(lower_bound__isnull=True)
                | Q(upper_bound__isnull=True)
                | Q(lower_bound__lt=F("upper_bound")),
                name="metric_bounds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.benchmark.slug} {self.label}"

    @property
    def label(self) -> str:
        return self.name or self.key

    @property
    def title(self) -> str:
        """The benchmark and the metric, as lists of several metrics name it (see `evaluations.labels.titled`)."""
        return self.__dict__.get("_title") or f"{self.benchmark.name} · {self.label}"

    @title.setter
    def title(self, value: str) -> None:
        self.__dict__["_title"] = value

    @property
    def higher_is_better(self) -> bool:
        return self.direction == self.Direction.HIGHER

    @property
    def sign(self) -> float:
        """What a value is multiplied by so that higher is better: -1 for lower-is-better, else 1 (unknown counts
        as higher). The read model's `oriented` column and the rankings' SQL both follow it."""
        return -1.0 if self.direction == self.Direction.LOWER else 1.0

    def out_of_bounds(self, value: float) -> str | None:
        """Why `value` cannot be a score of this metric, or None when it can."""
        if self.lower_bound is not None and value < self.lower_bound:
            return f"{self.key}: {value} is below the metric's lower bound {self.lower_bound}."
        if self.upper_bound is not None and value > self.upper_bound:
            return f"{self.key}: {value} is above the metric's upper bound {self.upper_bound}."
        return None

    def clean(self) -> None:
        below = self.lower_bound is not None and self.baseline is not None and self.baseline < self.lower_bound
        above = self.upper_bound is not None and self.baseline is not None and self.baseline > self.upper_bound
        if below or above:
            raise ValidationError({"baseline": "The baseline must lie within the metric's bounds."})
        if self.lower_bound is not None and self.upper_bound is not None and self.lower_bound >= self.upper_bound:
            raise ValidationError({"upper_bound": "The upper bound must be greater than the lower bound."})


class EvaluationConfig(models.Model):
    """How evaluations were run, stored once however many evaluations share it (a result file's tasks all do).

    Content-addressed: `digest` is the SHA-256 of the canonical JSON (see `evaluations.results.config_digest`), so
    the same config recorded again finds its row instead of copying it.
    """

    digest = models.CharField(max_length=64, unique=True, editable=False)
    data = models.JSONField(default=dict)

    class Meta:
        verbose_name = "evaluation config"

    def __str__(self) -> str:
        return self.digest[:12]


class EvaluationQuerySet(models.QuerySet):
    def queue_counts(self) -> dict[str, int]:
        """How many jobs the queue holds: `pending` (waiting for a worker) and `running` (leased to one).

        Imported results never pass through the queue, so a queue of 0 beside results imported a minute ago is
        right, and the page says so. The OR of the two statuses (not IN) lets PostgreSQL combine the two partial
        indexes (evaluation_pending_idx, evaluation_running_idx) instead of reading every evaluation.
        """
        counts = dict.fromkeys((Evaluation.Status.PENDING, Evaluation.Status.RUNNING), 0)
        open_jobs = self.filter(Q(status=Evaluation.Status.PENDING) | Q(status=Evaluation.Status.RUNNING))
        counts |= dict(open_jobs.order_by().values_list("status").annotate(Count("pk")))
        return {"pending": counts[Evaluation.Status.PENDING], "running": counts[Evaluation.Status.RUNNING]}


class Evaluation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Source(models.TextChoices):
        IMPORT = "import"
        API = "api"
        ADMIN = "admin"
        WEB = "web"

    # Not indexed alone: evaluation_latest_idx starts with the checkpoint and serves its lookups.
    checkpoint = models.ForeignKey(Checkpoint, models.CASCADE, related_name="evaluations", db_index=False)
    benchmark = models.ForeignKey(Benchmark, models.PROTECT, related_name="evaluations")
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    source = models.CharField(max_length=20, choices=Source, default=Source.ADMIN)
    harness = models.CharField(max_length=100, blank=True, help_text="e.g. 'lm-evaluation-harness'.")
    harness_version = models.CharField(max_length=50, blank=True)
    # How it was run; none for a job not yet run or a result without one (`config` reads {} then).
    # Not indexed: nothing looks evaluations up by config, and configs are never deleted (shared rows outlive edits).
    run_config = models.ForeignKey(
        EvaluationConfig,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="evaluations",
        editable=False,
        db_index=False,
    )
    error = models.TextField(blank=True)
    # Hash of the scores: the same results arriving twice are recognised and not stored again. 128 bits are plenty
    # to tell one checkpoint's results on one benchmark apart, and half of a SHA-256 in hex saves 32 bytes a row.
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)
    # Indexed only where set (evaluation_requested_by_idx): imported results, most rows, have no requester.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The job queue: a worker claims a pending evaluation for a limited time (its lease) and proves it holds the
    # lease with the token it was given; an expired lease sends the job back to pending, up to a maximum of attempts.
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    worker = models.CharField(max_length=200, blank=True, help_text="The worker running or last running it.")
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The lease length the claim asked for: each heartbeat renews by it, so a worker that dies is noticed as soon as
    # it chose, not after the server's default.
    lease_seconds = models.PositiveIntegerField(null=True, blank=True, editable=False)

    objects = EvaluationQuerySet.as_manager()

    class Meta:
        # Newest first by id, which follows creation: an index on created_at for it cost as much as 70 bytes a row.
        ordering = ["-pk"]
        constraints = [
            # A job is requested once: a second request while one is pending or running is the same request.
            models.UniqueConstraint(
                fields=["checkpoint", "benchmark"],
                condition=Q(status__in=["pending", "running"]),
                name="one_open_evaluation_per_checkpoint_and_benchmark",
                violation_error_message="This checkpoint already has a pending or running evaluation on it.",
            ),
        ]
        indexes = [
            # A checkpoint's evaluations, "the latest succeeded evaluation of each (checkpoint, benchmark)" and
            # recognising repeated results: a (checkpoint, benchmark) holds a handful of rows, read whole.
            models.Index(fields=["checkpoint", "benchmark"], name="evaluation_latest_idx"),
            # The queue: what workers claim, oldest first, and leases that ran out. Partial, so that the millions of
            # finished evaluations cost them nothing; each condition is the one its query states.
            models.Index(fields=["created_at", "id"], condition=Q(status="pending"), name="evaluation_pending_idx"),
            models.Index(fields=["lease_expires_at"], condition=Q(status="running"), name="evaluation_running_idx"),
            models.Index(
                fields=["requested_by"], condition=Q(requested_by__isnull=False), name="evaluation_requested_by_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.benchmark} on {self.checkpoint} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("rankings:checkpoint", args=[self.checkpoint_id]) + f"#evaluation-{self.pk}"

    @property
    def config(self) -> dict:
        """How it was run, as JSON; lists that show it select_related("run_config")."""
        return self.run_config.data if self.run_config_id else {}


class Score(models.Model):
    # Not indexed alone: one_score_per_metric starts with the evaluation and serves its lookups (a copy would cost a
    # megabyte per 75,000 scores). The metric's index serves the check that a deleted metric has no scores.
    evaluation = models.ForeignKey(Evaluation, models.CASCADE, related_name="scores", db_index=False)
    metric = models.ForeignKey(Metric, models.PROTECT, related_name="scores")
    value = models.FloatField(validators=[validate_magnitude])
    stderr = models.FloatField(null=True, blank=True, validators=[validate_magnitude, MinValueValidator(0)])

    class Meta:
        ordering = ["metric__key"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "metric"], name="one_score_per_metric"),
            models.CheckConstraint(condition=_in_range("value"), name="score_value_in_range"),
            models.CheckConstraint(
                condition=Q(stderr__isnull=True) | (Q(stderr__gte=0) & _in_range("stderr")),
                name="score_stderr_in_range_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric.key} = {self.value}"


class CurrentScore(models.Model):
    """Read model: the value that counts for each (checkpoint, metric), i.e. from the latest succeeded evaluation.

    Derived from Evaluation and Score and kept current in the same transaction as the results it derives from
    (see `evaluations.current`); `manage.py rebuild_current_scores` recreates it from scratch. Rankings read it
    instead of searching the evaluation history for every row.
    """

    # Not indexed alone: one_current_score_per_metric starts with the checkpoint, both ranking indexes with the metric.
    checkpoint = models.ForeignKey(Checkpoint, models.CASCADE, related_name="current_scores", db_index=False)
    metric = models.ForeignKey(Metric, models.CASCADE, related_name="current_scores", db_index=False)
    # The evaluation and training are copies, kept right by `evaluations.current` (an evaluation's deletion
    # recomputes its checkpoint's rows there, a training's deletion removes its checkpoints and so their rows), and
    # checked by the drift check: neither needs the database's constraint nor an index of its own for a cascade,
    # which together cost a third of the table's size.
    evaluation = models.ForeignKey(Evaluation, models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False)
    # Copied from the checkpoint so that "best checkpoint per training" is one index range scan.
    training = models.ForeignKey(Training, models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False)
    step = models.BigIntegerField()
    value = models.FloatField()
    stderr = models.FloatField(null=True)
    # The value with its sign flipped for lower-is-better metrics: "better" always sorts descending.
    oriented = models.FloatField()
    finished_at = models.DateTimeField(null=True)

    objects = CurrentScoreQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "metric"], name="one_current_score_per_metric"),
        ]
        indexes = [
            # Best checkpoint of each training on a metric (earlier step wins a tie). It carries every column a
            # ranking reads, so PostgreSQL answers from the index alone: one metric's rows are scattered over the
            # table, and visiting them in the heap cost 30 000 page reads at 1.2 million scores. (SQLite ignores
            # `include`.)
            models.Index(
                fields=["metric", "training", "-oriented", "step"],
                include=["checkpoint", "value", "stderr", "finished_at"],
                name="current_ranking_idx",
            ),
            # Top rows of one metric across all checkpoints.
            models.Index("metric", F("oriented").desc(), name="current_metric_top_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.checkpoint_id}/{self.metric_id} = {self.value}"
