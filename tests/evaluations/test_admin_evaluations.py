"""Evaluations entered and corrected in the admin: provenance, scores limited to the benchmark, clean errors."""

import pytest
from django.urls import reverse

from evaluations.models import Evaluation, Score
from evaluations.results import ScoreValue, fingerprint
from tests import factories
from tests.evaluations.test_admin_benchmarks import inline_form_data

pytestmark = pytest.mark.django_db


def _scored_evaluation() -> Score:
    """A succeeded evaluation with one score (acc = 0.5 ± 0.01) and a second metric left unscored."""
    acc = factories.metric(key="acc")
    factories.metric(benchmark=acc.benchmark, key="acc_norm")
    return factories.score(metric=acc, value=0.5, stderr=0.01)


def _change_form(evaluation: Evaluation, rows: list[dict]) -> dict:
    fields = {
        "status": evaluation.status,
        "source": evaluation.source,
        "harness": evaluation.harness,
        "harness_version": evaluation.harness_version,
        "config": "{}",
        "error": evaluation.error,
        "started_at_0": "",
        "started_at_1": "",
        "finished_at_0": "2026-11-01",
        "finished_at_1": "12:00:00",
    }
    return fields | inline_form_data("scores", rows, initial=sum(1 for row in rows if "id" in row))


def _score_row(score: Score, **changes) -> dict:
    row = {"id": score.pk, "evaluation": score.evaluation_id, "metric": score.metric_id}
    return row | {"value": score.value, "stderr": score.stderr} | changes


def _post_change(client, evaluation: Evaluation, rows: list[dict]):
    url = reverse("admin:evaluations_evaluation_change", args=[evaluation.pk])
    return client.post(url, _change_form(evaluation, rows))


@pytest.mark.parametrize(
    ("field", "posted"),
    [("value", "nan"), ("value", "inf"), ("value", "-inf"), ("stderr", "-0.1"), ("stderr", "nan"), ("stderr", "inf")],
)
def test_a_score_that_is_not_finite_or_has_a_negative_stderr_is_a_form_error(staff_client, field: str, posted: str):
    score = _scored_evaluation()
    response = _post_change(staff_client, score.evaluation, [_score_row(score, **{field: posted})])
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors[0][field]
    score.refresh_from_db()
    assert (score.value, score.stderr) == (0.5, 0.01)


def test_a_negative_stderr_is_explained(staff_client):
    score = _scored_evaluation()
    response = _post_change(staff_client, score.evaluation, [_score_row(score, stderr="-0.1")])
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()


def test_editing_a_score_saves_it_and_its_fingerprint(staff_client):
    score = _scored_evaluation()
    response = _post_change(staff_client, score.evaluation, [_score_row(score, value="0.75")])
    assert response.status_code == 302
    score.refresh_from_db()
    assert (score.value, score.stderr) == (0.75, 0.01)
    score.evaluation.refresh_from_db()
    assert score.evaluation.fingerprint == fingerprint({score.metric: ScoreValue(0.75, 0.01)})


def test_adding_a_score_for_another_metric_of_the_benchmark(staff_client):
    score = _scored_evaluation()
    norm = score.metric.benchmark.metrics.get(key="acc_norm")
    rows = [_score_row(score), {"metric": norm.pk, "value": "0.6", "stderr": None}]
    response = _post_change(staff_client, score.evaluation, rows)
    assert response.status_code == 302
    assert sorted(score.evaluation.scores.values_list("metric__key", "value")) == [("acc", 0.5), ("acc_norm", 0.6)]


def test_scores_offer_only_the_metrics_of_the_evaluation_benchmark(staff_client):
    score = _scored_evaluation()
    factories.metric(key="bleu")
    url = reverse("admin:evaluations_evaluation_change", args=[score.evaluation.pk])
    formset = staff_client.get(url).context["inline_admin_formsets"][0].formset
    offered = [label for _, label in formset.forms[0].fields["metric"].choices]
    assert offered == ["---------", "acc", "acc_norm"]


def test_a_score_for_a_metric_of_another_benchmark_is_a_form_error(staff_client):
    score = _scored_evaluation()
    bleu = factories.metric(key="bleu")
    rows = [_score_row(score), {"metric": bleu.pk, "value": "0.6", "stderr": None}]
    response = _post_change(staff_client, score.evaluation, rows)
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert score.evaluation.scores.count() == 1


def test_the_checkpoint_and_benchmark_of_an_evaluation_are_not_editable(staff_client):
    score = _scored_evaluation()
    url = reverse("admin:evaluations_evaluation_change", args=[score.evaluation.pk])
    form = staff_client.get(url).context["adminform"].form
    assert not {"checkpoint", "benchmark", "fingerprint", "requested_by", "created_at"} & set(form.fields)


def test_an_evaluation_added_in_the_admin_is_marked_as_such(staff_client):
    checkpoint = factories.checkpoint()
    benchmark = factories.metric().benchmark
    page = staff_client.get(reverse("admin:evaluations_evaluation_add"))
    assert page.context["adminform"].form["source"].value() == Evaluation.Source.ADMIN
    assert not page.context["inline_admin_formsets"]
    data = {
        "checkpoint": checkpoint.pk,
        "benchmark": benchmark.pk,
        "status": Evaluation.Status.PENDING,
        "source": page.context["adminform"].form["source"].value(),
        "config": "{}",
    }
    response = staff_client.post(reverse("admin:evaluations_evaluation_add"), data)
    assert response.status_code == 302
    evaluation = Evaluation.objects.get()
    assert (evaluation.source, evaluation.requested_by.username) == (Evaluation.Source.ADMIN, "admin")
