"""The pages that read one metric's values directly rank them by the engine's rules, and agree with the engine."""

import pytest

from evaluations.models import Metric
from rankings.methods import RankingSpec
from rankings.models import RankedCheckpoint
from tests import factories

pytestmark = pytest.mark.django_db


def _engine_ranks(metric: Metric, **options) -> list[tuple[str, int, int]]:
    rows = RankedCheckpoint.objects.ranked(RankingSpec.of(metric, **options)).select_related("training")
    return [(row.training.name, row.step, row.rank) for row in rows]


def test_the_benchmark_page_shares_ranks_between_ties_as_the_engine_does(client):
    ppl = factories.metric(key="ppl", higher_is_better=False)
    for name, value in [("a", 12.0), ("b", 9.5), ("c", 12.0), ("d", 14.0)]:
        factories.score(training=name, metric=ppl, value=value)
    response = client.get(f"/benchmarks/{ppl.benchmark.pk}/")
    shown = [(score.checkpoint.training.name, score.step, score.rank) for score in response.context["page"].object_list]
    assert shown == [("b", 1000, 1), ("a", 1000, 2), ("c", 1000, 2), ("d", 1000, 4)]
    assert shown == _engine_ranks(ppl)


def test_the_training_page_marks_the_lowest_value_of_a_lower_is_better_metric_as_best(client):
    ppl = factories.metric(key="ppl", higher_is_better=False)
    training = factories.training(name="run")
    for step, value in [(100, 12.0), (200, 9.0), (300, 9.0), (400, 15.0)]:
        checkpoint = factories.checkpoint(training=training, step=step)
        factories.score(checkpoint_obj=checkpoint, metric=ppl, value=value)
    response = client.get(training.get_absolute_url(), {"metric": ppl.pk})
    marked = [checkpoint.step for checkpoint, _, cells in response.context["table"] if cells[0][3]]
    # The tie at 9.0 goes to the earlier step, as the engine's best checkpoint of the training does.
    assert marked == [200]
    assert _engine_ranks(ppl, best_only=True) == [("run", 200, 1)]
    assert response.context["suggestion"].step == 200


def test_compare_marks_the_lowest_value_of_a_lower_is_better_metric_as_best(client):
    ppl = factories.metric(key="ppl", higher_is_better=False)
    scores = [factories.score(training=name, metric=ppl, value=value) for name, value in [("a", 12.0), ("b", 9.5)]]
    response = client.get("/compare/", {"checkpoint": [score.evaluation.checkpoint_id for score in scores]})
    ((metric, cells),) = response.context["table"]
    assert [(cell.value, is_best) for cell, is_best, _ in cells] == [(12.0, False), (9.5, True)]
    assert _engine_ranks(ppl)[0] == ("b", 1000, 1)


def test_compare_marks_no_best_on_a_metric_of_unknown_direction(client):
    # The engine refuses to rank by such a metric: which value is better is for an admin to say, never guessed.
    metric = factories.metric(key="loss")
    scores = [factories.score(training=name, metric=metric, value=value) for name, value in [("a", 1.0), ("b", 2.0)]]
    Metric.objects.filter(pk=metric.pk).update(direction=Metric.Direction.UNKNOWN)
    response = client.get("/compare/", {"checkpoint": [score.evaluation.checkpoint_id for score in scores]})
    ((_, cells),) = response.context["table"]
    assert [(cell.value, is_best) for cell, is_best, _ in cells] == [(1.0, False), (2.0, False)]
    assert "(best)" not in response.content.decode()
