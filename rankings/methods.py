"""What a ranking is: its method, metrics and weights, and the rules for ties, missing values and best checkpoints.

The definitions are written out in docs/rankings.md; `rankings.queries` computes them in the database.
"""

from dataclasses import dataclass

from django.db import models

from evaluations.models import Metric


class Method(models.TextChoices):
    METRIC = "metric", "single metric"
    MEAN = "mean", "mean"
    WEIGHTED_MEAN = "weighted_mean", "weighted mean"
    NORMALISED_MEAN = "normalised_mean", "normalised mean"
    MEAN_RANK = "mean_rank", "mean rank"
    WIN_RATE = "win_rate", "mean win rate"


class Missing(models.TextChoices):
    REQUIRE_ALL = "require_all", "require all metrics"
    AVAILABLE = "available", "use the available metrics"
    WORST = "worst", "count a missing value as the worst observed"


class Ties(models.TextChoices):
    STANDARD = "standard", "standard competition (1, 2, 2, 4)"
    DENSE = "dense", "dense (1, 2, 2, 3)"


class RankingError(ValueError):
    """A ranking that cannot be computed as asked; the message says what to change."""


@dataclass(frozen=True)
class WeightedMetric:
    metric: Metric
    weight: float = 1.0


# A metric's weight: at most a million times another's. With scores within ±1e15 (evaluations.models.SCORE_LARGEST)
# and at most 40 metrics, no weighted sum in the ranking SQL comes near overflowing or underflowing a double.
MIN_WEIGHT = 0.001
MAX_WEIGHT = 1000.0


@dataclass(frozen=True)
class RankingSpec:
    metrics: tuple[WeightedMetric, ...]
    method: str = Method.METRIC
    best_only: bool = False
    missing: str = Missing.REQUIRE_ALL
    ties: str = Ties.STANDARD

    @classmethod
    def of(cls, metrics: list[Metric] | Metric, **options) -> "RankingSpec":
        """A spec with weight 1 for each metric; a single metric defaults to the single-metric method."""
        metrics = [metrics] if isinstance(metrics, Metric) else list(metrics)
        options.setdefault("method", Method.METRIC if len(metrics) == 1 else Method.NORMALISED_MEAN)
        return cls(metrics=tuple(WeightedMetric(m) for m in metrics), **options)

    @property
    def method_label(self) -> str:
        return Method(self.method).label

    @property
    def missing_label(self) -> str:
        return Missing(self.missing).label

    @property
    def ties_label(self) -> str:
        return Ties(self.ties).label

    @property
    def uses_weights(self) -> bool:
        """Whether the metrics' weights change this ranking: the plain mean and a single metric ignore them."""
        return self.method not in (Method.METRIC, Method.MEAN)

    @property
    def higher_is_better(self) -> bool:
        """Whether a higher `score` is better (mean rank is the one score where lower wins)."""
        if self.method == Method.MEAN_RANK:
            return False
        if self.method in (Method.METRIC, Method.MEAN, Method.WEIGHTED_MEAN):
            return self.metrics[0].metric.higher_is_better
        return True

    def error(self) -> str | None:
        """What `validate` would raise, as text, or None when the spec has a meaning."""
        try:
            self.validate()
        except RankingError as error:
            return str(error)
        return None

    def validate(self) -> None:
        """Raise RankingError when the spec asks for something that has no meaning."""
        if self.method not in Method.values:
            raise RankingError(f"Unknown ranking method {self.method!r}; choose one of {', '.join(Method.values)}.")
        if self.missing not in Missing.values:
            raise RankingError(f"Unknown missing-value policy {self.missing!r}.")
        if self.ties not in Ties.values:
            raise RankingError(f"Unknown tie style {self.ties!r}.")
        if not self.metrics:
            raise RankingError("Choose at least one metric to rank by.")
        keys = [m.metric.pk for m in self.metrics]
        if len(set(keys)) != len(keys):
            raise RankingError("Each metric may appear only once in a ranking.")
        for weighted in self.metrics:
            if weighted.metric.direction == Metric.Direction.UNKNOWN:
                raise RankingError(
                    f"The direction of {weighted.metric} is unknown: set it in the admin before ranking by it."
                )
            if not weighted.weight > 0:
                raise RankingError(f"The weight of {weighted.metric} must be a positive number.")
        if self.method == Method.METRIC and len(self.metrics) != 1:
            raise RankingError("A single-metric ranking takes exactly one metric; use a mean for several.")
        if self.method in (Method.MEAN, Method.WEIGHTED_MEAN):
            self._check_comparable()

    def _check_comparable(self) -> None:
        first = self.metrics[0].metric
        if first.lower_bound is None or first.upper_bound is None:
            raise RankingError(
                f"{first} has no known scale (set its lower and upper bounds), so its raw values cannot be averaged: "
                "use the normalised mean."
            )
        for weighted in self.metrics[1:]:
            other = weighted.metric
            if other.direction != first.direction:
                raise RankingError(
                    f"{first} and {other} point in different directions, so their raw values cannot be averaged: "
                    "use the normalised mean."
                )
            if (other.lower_bound, other.upper_bound) != (first.lower_bound, first.upper_bound):
                raise RankingError(
                    f"{first} and {other} are not on one known scale (both need the same lower and upper bounds), "
                    "so their raw values cannot be averaged: use the normalised mean."
                )
