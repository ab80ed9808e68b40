"""The CurrentScore read model follows the evaluation history, incrementally and by rebuild."""

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from evaluations.current import current_score_drift, rebuild_current_scores
from evaluations.models import CurrentScore, Evaluation, Metric
from evaluations.results import ScoreValue, record_result
from tests import factories

pytestmark = pytest.mark.django_db


def current(checkpoint, metric) -> float | None:
    row = CurrentScore.objects.filter(checkpoint=checkpoint, metric=metric).first()
    return None if row is None else row.value


def snapshot() -> list[tuple]:
    return sorted(
        CurrentScore.objects.values_list(
            "checkpoint_id", "metric_id", "evaluation_id", "training_id", "step", "value", "stderr", "oriented"
        )
    )


def test_a_new_result_becomes_current_and_replaces_the_older_one():
    acc = factories.metric()
    checkpoint = factories.checkpoint()
    record_result(checkpoint, acc.benchmark, {acc: ScoreValue(0.5)}, source="api")
    record_result(checkpoint, acc.benchmark, {acc: ScoreValue(0.7, 0.01)}, source="api")
    row = CurrentScore.objects.get(checkpoint=checkpoint, metric=acc)
    assert (row.value, row.stderr, row.oriented) == (0.7, 0.01, 0.7)


def test_the_latest_evaluation_counts_even_when_it_lacks_a_metric_an_older_one_had():
    acc = factories.metric(key="acc")
    acc_norm = factories.metric(key="acc_norm", benchmark=acc.benchmark)
    checkpoint = factories.checkpoint()
    record_result(checkpoint, acc.benchmark, {acc: ScoreValue(0.5), acc_norm: ScoreValue(0.6)}, source="api")
    record_result(checkpoint, acc.benchmark, {acc: ScoreValue(0.55)}, source="api")
    assert current(checkpoint, acc) == 0.55
    assert current(checkpoint, acc_norm) is None


def test_lower_is_better_values_are_stored_negated_for_sorting():
    ppl = factories.metric(key="ppl", higher_is_better=False)
    score = factories.score(metric=ppl, value=12.5)
    assert CurrentScore.objects.get(metric=ppl, checkpoint=score.evaluation.checkpoint).oriented == -12.5


def test_changing_a_metric_direction_reorients_its_current_scores():
    metric = factories.metric(key="ppl")
    factories.score(metric=metric, value=3.0)
    metric.direction = Metric.Direction.LOWER
    metric.save()
    assert CurrentScore.objects.get(metric=metric).oriented == -3.0


def test_a_failed_evaluation_never_becomes_current():
    acc = factories.metric()
    score = factories.score(metric=acc, value=0.4)
    newer = Evaluation.objects.create(
        checkpoint=score.evaluation.checkpoint,
        benchmark=acc.benchmark,
        status=Evaluation.Status.FAILED,
        finished_at=timezone.now(),
    )
    newer.scores.create(metric=acc, value=0.9)
    assert current(score.evaluation.checkpoint, acc) == 0.4


def test_editing_or_deleting_evaluations_outside_the_write_path_updates_the_read_model():
    acc = factories.metric()
    older = factories.score(metric=acc, value=0.4)
    checkpoint = older.evaluation.checkpoint
    newer = record_result(checkpoint, acc.benchmark, {acc: ScoreValue(0.6)}, source="api").evaluation
    newer.status = Evaluation.Status.CANCELLED
    newer.save()
    assert current(checkpoint, acc) == 0.4
    score = older.evaluation.scores.get()
    score.value = 0.45
    score.save()
    assert current(checkpoint, acc) == 0.45
    older.evaluation.delete()
    assert current(checkpoint, acc) is None


def test_moving_a_checkpoint_to_another_step_moves_its_current_scores():
    acc = factories.metric()
    score = factories.score(metric=acc, value=0.4, step=10)
    checkpoint = score.evaluation.checkpoint
    checkpoint.step = 20
    checkpoint.save()
    assert CurrentScore.objects.get(checkpoint=checkpoint).step == 20


def test_the_incremental_path_and_a_rebuild_agree():
    acc = factories.metric(key="acc")
    ppl = factories.metric(key="ppl", higher_is_better=False, benchmark=factories.benchmark())
    for training in ("a", "b"):
        for step, value in [(0, 0.1), (10, 0.3), (20, 0.2)]:
            checkpoint = factories.checkpoint(training_name=training, step=step)
            record_result(checkpoint, acc.benchmark, {acc: ScoreValue(value, 0.01)}, source="api")
            record_result(checkpoint, acc.benchmark, {acc: ScoreValue(value + 0.05)}, source="api")
            record_result(checkpoint, ppl.benchmark, {ppl: ScoreValue(10 - value)}, source="api")
    incremental = snapshot()
    assert current_score_drift() == {"missing": 0, "extra": 0, "different": 0}
    assert rebuild_current_scores() == len(incremental) == 12
    assert snapshot() == incremental


def test_the_check_finds_a_row_deleted_by_hand_and_the_rebuild_restores_it(capsys):
    acc = factories.metric()
    factories.score(metric=acc, value=0.4)
    factories.score(metric=acc, value=0.5)
    before = snapshot()
    CurrentScore.objects.filter(value=0.5).delete()
    CurrentScore.objects.filter(value=0.4).update(value=0.41)
    with pytest.raises(CommandError, match="1 missing, 0 extra, 1 different"):
        call_command("rebuild_current_scores", "--check")
    call_command("rebuild_current_scores")
    call_command("rebuild_current_scores", "--check")
    assert "match the evaluation history" in capsys.readouterr().out
    assert snapshot() == before
