"""POST /api/v1/results/: one result or a list, all or nothing, idempotent, strictly validated."""

import json

import pytest

from evaluations.models import Benchmark, Checkpoint, CurrentScore, Evaluation, ModelFamily, Score, Training
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/api/v1/results/"


@pytest.fixture
def arc():
    benchmark = factories.benchmark(slug="arc_easy", version="1")
    factories.metric(benchmark=benchmark, key="acc")
    factories.metric(benchmark=benchmark, key="acc_norm")
    return benchmark


def result(**fields) -> dict:
    payload = {
        "model": "pythia-160m",
        "training": "pythia-160m-deduped",
        "step": 1000,
        "benchmark": {"slug": "arc_easy", "num_fewshot": 0, "version": "1"},
        "metrics": {"acc": 0.5, "acc_norm": {"value": 0.55, "stderr": 0.01}},
    }
    return payload | fields


def post(client, body):
    return client.post(URL, body, format="json")


def test_a_result_creates_model_training_checkpoint_and_scores(writer, arc):
    response = post(writer, result(harness="lm-evaluation-harness", config={"batch_size": 8}))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["created"], body["unchanged"]) == (1, 0)
    evaluation = Evaluation.objects.get(pk=body["results"][0]["evaluation"])
    assert (evaluation.status, evaluation.source, evaluation.harness) == ("succeeded", "api", "lm-evaluation-harness")
    assert evaluation.config == {"batch_size": 8}
    assert evaluation.checkpoint.step == 1000
    assert evaluation.checkpoint.training.name == "pythia-160m-deduped"
    assert evaluation.checkpoint.training.model.name == "pythia-160m"
    assert sorted(evaluation.scores.values_list("metric__key", "value", "stderr")) == [
        ("acc", 0.5, None),
        ("acc_norm", 0.55, 0.01),
    ]
    assert CurrentScore.objects.filter(evaluation=evaluation).count() == 2


def test_posting_the_same_result_again_changes_nothing_and_answers_200(writer, arc):
    first = post(writer, result())
    again = post(writer, result())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["results"][0]["evaluation"] == first.json()["results"][0]["evaluation"]
    assert again.json()["results"][0]["created"] is False
    assert Evaluation.objects.count() == 1
    assert Score.objects.count() == 2


def test_a_changed_value_is_a_new_evaluation_naming_the_previous_one(writer, arc):
    first = post(writer, result()).json()["results"][0]["evaluation"]
    response = post(writer, result(metrics={"acc": 0.6, "acc_norm": 0.55}))
    assert response.status_code == 201
    row = response.json()["results"][0]
    assert row["created"] is True
    assert row["previous_evaluation"] == first
    assert Evaluation.objects.filter(status="succeeded").count() == 2
    assert Score.objects.get(evaluation_id=first, metric__key="acc").value == 0.5
    assert CurrentScore.objects.get(metric__key="acc").value == 0.6


def test_a_list_is_recorded_together_with_results_in_order(writer, arc):
    body = [result(step=step, metrics={"acc": step / 10000}) for step in (1000, 2000, 3000)]
    body.append(result(step=1000, metrics={"acc": 0.1}))  # the first one again, in the same request
    response = post(writer, body)
    assert response.status_code == 201
    rows = response.json()["results"]
    assert [row["index"] for row in rows] == [0, 1, 2, 3]
    assert [row["created"] for row in rows] == [True, True, True, False]
    assert rows[3]["evaluation"] == rows[0]["evaluation"]
    assert sorted(Checkpoint.objects.values_list("step", flat=True)) == [1000, 2000, 3000]


def test_one_bad_item_refuses_the_whole_list_and_says_which(writer, arc):
    body = [result(step=1), result(step=-5), result(step=3, metrics={"acc": "high"})]
    response = post(writer, body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {(e["index"], e["field"]) for e in errors} == {(1, "step"), (2, "metrics.acc")}
    assert Evaluation.objects.count() == 0
    assert Checkpoint.objects.count() == 0


def test_an_unknown_benchmark_in_a_list_rolls_back_everything(writer, arc):
    body = [result(), result(benchmark={"slug": "nope", "num_fewshot": 0, "version": ""})]
    response = post(writer, body)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, "benchmark")
    assert "Unknown benchmark 'nope'" in error["message"]
    assert (Evaluation.objects.count(), ModelFamily.objects.count(), Training.objects.count()) == (0, 0, 0)


def test_an_unknown_metric_is_refused_with_its_name(writer, arc):
    response = post(writer, result(metrics={"acc": 0.5, "f1": 0.3}))
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "metrics"
    assert "f1" in error["message"]


def test_create_missing_needs_the_permission_to_create(writer):
    response = post(writer, result(create_missing=True))
    assert response.status_code == 400
    assert "may not create benchmarks" in response.json()["errors"][0]["message"]
    assert not Benchmark.objects.exists()


def test_create_missing_creates_the_benchmark_and_metrics_with_known_directions(creator):
    body = result(
        benchmark={"slug": "arc_easy", "num_fewshot": 5, "version": ""},
        metrics={"acc": 0.5, "ppl": 12.0, "exact_match,strict-match": 0.2, "weird": 1.0, "odd": 2.0},
        create_missing=True,
        directions={"odd": "lower"},
    )
    response = post(creator, body)
    assert response.status_code == 201, response.json()
    benchmark = Benchmark.objects.get(slug="arc_easy", num_fewshot=5)
    directions = dict(benchmark.metrics.values_list("key", "direction"))
    assert directions == {
        "acc": "higher",
        "ppl": "lower",
        "exact_match,strict-match": "higher",
        "weird": "unknown",
        "odd": "lower",
    }
    assert benchmark.primary_metric.key == "acc"
    assert benchmark.metrics.get(key="acc").baseline == 0.25
    assert benchmark.category == "reasoning"


def test_create_missing_adds_only_new_metrics_to_a_known_benchmark(creator, arc):
    response = post(creator, result(metrics={"acc": 0.5, "f1": 0.3}, create_missing=True))
    assert response.status_code == 201
    assert set(arc.metrics.values_list("key", flat=True)) == {"acc", "acc_norm", "f1"}
    assert arc.metrics.get(key="f1").is_primary is False


def test_a_staff_token_may_create_missing_benchmarks(staff):
    assert post(staff, result(create_missing=True)).status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"step": -1}, "step"),
        ({"step": "1000"}, "step"),
        ({"step": 1.5}, "step"),
        ({"step": True}, "step"),
        ({"step": 2**63}, "step"),
        ({"model": ""}, "model"),
        ({"model": 12}, "model"),
        ({"model": "m" * 201}, "model"),
        ({"colour": "blue"}, "colour"),
        ({"metrics": {}}, "metrics"),
        ({"metrics": []}, "metrics"),
        ({"metrics": {"acc": None}}, "metrics.acc"),
        ({"metrics": {"acc": True}}, "metrics.acc"),
        ({"metrics": {"acc": "INF"}}, "metrics.acc"),
        ({"metrics": {"acc": 10**400}}, "metrics.acc"),
        ({"metrics": {"acc": {"value": 0.5, "stderr": -0.1}}}, "metrics.acc"),
        ({"metrics": {"acc": {"value": 0.5, "stderr": "INF"}}}, "metrics.acc"),
        ({"metrics": {"acc": {"stderr": 0.1}}}, "metrics.acc"),
        ({"metrics": {"acc": {"value": 0.5, "sd": 0.1}}}, "metrics.acc"),
        ({"benchmark": "arc_easy"}, "benchmark"),
        ({"benchmark": {"slug": "arc_easy", "num_fewshot": -1}}, "benchmark.num_fewshot"),
        ({"benchmark": {"slug": "arc_easy", "shots": 0}}, "benchmark.shots"),
        ({"config": [1, 2]}, "config"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"started_at": "2026-01-02T00:00:00Z", "finished_at": "2026-01-01T00:00:00Z"}, "finished_at"),
        ({"create_missing": "yes"}, "create_missing"),
        ({"directions": {"acc": "sideways"}}, "directions.acc"),
        ({"directions": {"f1": "higher"}}, "directions"),
    ],
)
def test_invalid_fields_get_a_400_naming_the_field(writer, arc, change, field):
    # "INF" stands for 1e400, which JSON can carry and Python's encoder cannot.
    raw = json.dumps(result(**change)).replace('"INF"', "1e400")
    response = writer.post(URL, raw, content_type="application/json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in [error["field"] for error in body["errors"]], body
    assert all(error["index"] == 0 for error in body["errors"])
    assert body["detail"]
    assert not Evaluation.objects.exists()


def test_a_missing_field_is_named(writer, arc):
    payload = result()
    del payload["step"]
    response = post(writer, payload)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "step", "message": "This field is required."}]


@pytest.mark.parametrize("raw", ['{"step": NaN}', '{"step": Infinity}', "[1, 2", "not json", '"text"', "12"])
def test_nan_infinity_and_broken_json_get_a_400(writer, arc, raw):
    response = writer.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_nan_inside_metrics_gets_a_400(writer, arc):
    raw = json.dumps(result()).replace("0.5,", "NaN,")
    response = writer.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert not Evaluation.objects.exists()


def test_an_empty_list_gets_a_400(writer):
    assert post(writer, []).status_code == 400


def test_too_many_results_in_one_request_get_a_400(writer, arc, settings):
    settings.API_MAX_RESULTS_PER_REQUEST = 3
    response = post(writer, [result(step=i) for i in range(4)])
    assert response.status_code == 400
    assert "At most 3 results" in response.json()["detail"]


def test_an_oversized_body_gets_a_413(writer, arc, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = post(writer, [result(step=i) for i in range(30)])
    assert response.status_code == 413
    assert "limit of 2000 bytes" in response.json()["detail"]


def test_nul_characters_get_a_400(writer, arc):
    response = post(writer, result(training="evil\x00name"))
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_anonymous_clients_get_401(anonymous, arc):
    assert post(anonymous, result()).status_code == 401


def test_a_token_without_the_permission_gets_403(reader, arc):
    response = post(reader, result())
    assert response.status_code == 403
    assert "evaluations.add_evaluation" in response.json()["detail"]


def test_a_browser_session_cannot_write_even_as_staff(staff_client, arc):
    response = staff_client.post(URL, result(), content_type="application/json")
    assert response.status_code == 403
    assert "API token" in response.json()["detail"]


def test_staff_tokens_may_post_results(staff, arc):
    assert post(staff, result()).status_code == 201
