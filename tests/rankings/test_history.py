"""Best over time, rankings across metrics with their correlations, and deployment selections."""

import datetime as dt
import math
from itertools import combinations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from evaluations.results import ScoreValue, record_result
from rankings.correlation import rank_correlations, ranks_across
from rankings.methods import Method, RankingSpec
from rankings.models import DeploymentSelection, Leaderboard, LeaderboardMetric, RankedCheckpoint
from tests import factories

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def test_the_running_best_over_steps_follows_the_metric_direction():
    ppl = factories.metric(key="ppl", higher_is_better=False)
    training = factories.training(name="run")
    for step, value in [(0, 30.0), (10, 12.0), (20, 15.0), (30, 9.0)]:
        factories.score(metric=ppl, value=value, checkpoint_obj=factories.checkpoint(training=training, step=step))
    rows = RankedCheckpoint.objects.filter(training=training).ranked(RankingSpec.of(ppl)).with_running_best("step")
    assert [(row.step, row.score, row.best_so_far) for row in rows] == [
        (0, 30.0, 30.0),
        (10, 12.0, 12.0),
        (20, 15.0, 12.0),
        (30, 9.0, 9.0),
    ]


def test_a_leaderboards_best_score_as_of_each_date():
    acc = factories.metric()
    start = timezone.now() - 10 * DAY
    for day, (training, value) in enumerate([("a", 0.3), ("b", 0.5), ("a", 0.4), ("c", 0.7)]):
        checkpoint = factories.checkpoint(training_name=training, step=day)
        record_result(checkpoint, acc.benchmark, {acc: ScoreValue(value)}, source="api", finished_at=start + day * DAY)
    leaderboard = Leaderboard.objects.create(name="Acc", slug="acc", best_only=False)
    LeaderboardMetric.objects.create(leaderboard=leaderboard, metric=acc)
    rows = leaderboard.rows().with_running_best("achieved_at")
    assert [(row.achieved_at - start, row.best_so_far) for row in rows] == [
        (0 * DAY, 0.3),
        (1 * DAY, 0.5),
        (2 * DAY, 0.5),
        (3 * DAY, 0.7),
    ]


def average_ranks(values: list[float]) -> list[float]:
    """Rank 1 for the largest; tied values share the average of their positions."""
    return [sum(1 for w in values if w > v) + (sum(1 for w in values if w == v) + 1) / 2 for v in values]


def spearman(x: list[float], y: list[float]) -> float:
    rx, ry = average_ranks(x), average_ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    covariance = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    return covariance / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))


def kendall_tau_b(x: list[float], y: list[float]) -> float:
    pairs = list(combinations(range(len(x)), 2))
    concordance = sum(_sign(x[i] - x[j]) * _sign(y[i] - y[j]) for i, j in pairs)
    untied_x = sum(1 for i, j in pairs if x[i] != x[j])
    untied_y = sum(1 for i, j in pairs if y[i] != y[j])
    return concordance / math.sqrt(untied_x * untied_y)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def test_ranks_across_metrics_and_their_correlations_match_the_textbook_formulas():
    acc = factories.metric(key="acc")
    ppl = factories.metric(key="ppl", higher_is_better=False)
    bias = factories.metric(key="bias", higher_is_better=False)
    data = {
        "a": (0.5, 10.0, 3.0),
        "b": (0.7, 12.0, 3.0),
        "c": (0.7, 8.0, 1.0),
        "d": (0.2, 20.0, 2.0),
        "e": (0.6, 9.0, 5.0),
    }
    for training, values in data.items():
        checkpoint = factories.checkpoint(training_name=training)
        for metric, value in zip((acc, ppl, bias), values, strict=True):
            factories.score(metric=metric, value=value, checkpoint_obj=checkpoint)
    metrics = [acc, ppl, bias]
    ranked = ranks_across(RankedCheckpoint.objects.all(), metrics)
    by_training = {
        row.training.name: [getattr(row, f"part_{m.pk}") for m in metrics] for row in ranked.select_related("training")
    }
    assert by_training["c"] == [1.0, 1.0, 1.0]
    assert by_training["d"] == [5.0, 5.0, 2.0]

    oriented = {
        m: [v if m.higher_is_better else -v for v in (values[i] for values in data.values())]
        for i, m in enumerate(metrics)
    }
    correlations = {(c.first.key, c.second.key): c for c in rank_correlations(ranked, metrics)}
    assert set(correlations) == {("acc", "ppl"), ("acc", "bias"), ("ppl", "bias")}
    for correlation in correlations.values():
        x, y = oriented[correlation.first], oriented[correlation.second]
        assert correlation.rows == 5
        assert correlation.spearman_rho == pytest.approx(spearman(x, y))
        assert correlation.kendall_tau == pytest.approx(kendall_tau_b(x, y))


def test_selecting_a_checkpoint_for_deployment_keeps_the_history(django_user_model):
    user = django_user_model.objects.create_user("lead")
    first = factories.checkpoint(training_name="run", step=10)
    second = factories.checkpoint(training=first.training, step=20)
    DeploymentSelection.select(first, user=user, reason="first release")
    DeploymentSelection.select(second, user=user, reason="better on everything")
    history = list(DeploymentSelection.objects.filter(model=first.training.model))
    assert [(s.checkpoint, s.is_current, s.ended_at is not None) for s in history] == [
        (second, True, False),
        (first, False, True),
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        DeploymentSelection.objects.create(model=first.training.model, checkpoint=first, is_current=True)


def test_the_best_checkpoint_rule_suggests_a_deployment_candidate():
    acc = factories.metric()
    training = factories.training(name="run")
    for step, value in [(0, 0.3), (10, 0.6), (20, 0.6)]:
        factories.score(metric=acc, value=value, checkpoint_obj=factories.checkpoint(training=training, step=step))
    leaderboard = Leaderboard.objects.create(name="Acc", slug="acc")
    LeaderboardMetric.objects.create(leaderboard=leaderboard, metric=acc)
    suggestion = leaderboard.suggest_deployment(training.model)
    assert (suggestion.training, suggestion.step) == (training, 10)


def test_a_normalised_mean_has_records_over_time():
    # Its score is not its (rounded) sort key, so comparing the running best with the score found no record at all.
    acc, norm = factories.metric(key="acc"), factories.metric(key="acc_norm")
    training = factories.training(name="run")
    for step, a, n in [(0, 0.31, 0.2), (10, 0.47, 0.33), (20, 0.4, 0.3)]:
        checkpoint = factories.checkpoint(training=training, step=step)
        factories.score(metric=acc, value=a, checkpoint_obj=checkpoint)
        factories.score(metric=norm, value=n, checkpoint_obj=checkpoint)
    spec = RankingSpec.of([acc, norm], method=Method.NORMALISED_MEAN)
    rows = RankedCheckpoint.objects.filter(training=training).ranked(spec).with_running_best("step")
    assert [row.step for row in rows if row.is_record] == [0, 10]
