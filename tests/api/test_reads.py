"""Read endpoints: lists and details, filters, whitelisted ordering with stable pages, and who may read."""

import pytest

from evaluations.models import Evaluation
from evaluations.results import ScoreValue, record_result
from tests import factories

pytestmark = pytest.mark.django_db


def names(response, key: str = "name") -> list:
    return [row[key] for row in response.json()["results"]]


def test_models_are_listed_by_name_with_their_tags(anonymous):
    factories.model(name="b-model")
    tagged = factories.model(name="a-model")
    tagged.tags.create(name="deduped")
    response = anonymous.get("/api/v1/models/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert names(response) == ["a-model", "b-model"]
    assert body["results"][0]["tags"] == ["deduped"]


def test_a_model_is_read_by_id(anonymous):
    model = factories.model(name="pythia", parameter_count=160_000_000)
    body = anonymous.get(f"/api/v1/models/{model.pk}/").json()
    assert (body["name"], body["parameter_count"]) == ("pythia", 160_000_000)


def test_trainings_filter_by_model(anonymous):
    wanted = factories.training(name="run-a", model_name="m1")
    factories.training(name="run-b", model_name="m2")
    response = anonymous.get("/api/v1/trainings/", {"model": wanted.model_id})
    assert names(response) == ["run-a"]
    assert response.json()["results"][0]["model_name"] == "m1"


def test_checkpoints_filter_by_training_and_step_range(anonymous):
    training = factories.training(name="run")
    for step in (0, 1000, 2000, 3000):
        factories.checkpoint(training=training, step=step)
    response = anonymous.get("/api/v1/checkpoints/", {"training": training.pk, "step_min": 1000, "step_max": 2000})
    assert names(response, "step") == [1000, 2000]


def test_an_integer_filter_refuses_a_fraction(anonymous):
    response = anonymous.get("/api/v1/checkpoints/", {"step_min": "0.5"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "step_min"


def test_benchmarks_come_with_their_metrics(anonymous):
    benchmark = factories.benchmark(slug="arc_easy", num_fewshot=5, version="1")
    factories.metric(benchmark=benchmark, key="acc")
    factories.metric(benchmark=benchmark, key="ppl", higher_is_better=False)
    body = anonymous.get(f"/api/v1/benchmarks/{benchmark.pk}/").json()
    assert (body["slug"], body["num_fewshot"], body["version"]) == ("arc_easy", 5, "1")
    assert [(m["key"], m["direction"], m["is_primary"]) for m in body["metrics"]] == [
        ("acc", "higher", True),
        ("ppl", "lower", False),
    ]


def test_evaluations_come_with_their_scores_and_filter_by_status(anonymous):
    acc = factories.metric()
    factories.score(metric=acc, value=0.5, stderr=0.01)
    factories.evaluation(status=Evaluation.Status.PENDING)
    response = anonymous.get("/api/v1/evaluations/", {"status": "succeeded"})
    [row] = response.json()["results"]
    assert row["status"] == "succeeded"
    assert row["scores"] == [{"metric": acc.pk, "key": "acc", "value": 0.5, "stderr": 0.01}]
    assert "lease_token" not in row


def test_evaluations_filter_by_model(anonymous):
    acc = factories.metric()
    wanted = factories.checkpoint(training=factories.training(model_name="wanted"))
    other = factories.checkpoint(training=factories.training(model_name="other"))
    for checkpoint in (wanted, other):
        record_result(checkpoint, acc.benchmark, {acc: ScoreValue(0.5)}, source="api")
    response = anonymous.get("/api/v1/evaluations/", {"model": wanted.training.model_id})
    assert [row["checkpoint"] for row in response.json()["results"]] == [wanted.pk]


def test_ordering_is_whitelisted_and_pages_are_stable(anonymous):
    for index in range(5):
        factories.model(name=f"model-{index}", parameter_count=100 if index % 2 else None)
    first = anonymous.get("/api/v1/models/", {"ordering": "-parameter_count", "page_size": 2})
    second = anonymous.get(first.json()["next"])
    third = anonymous.get(second.json()["next"])
    seen = names(first) + names(second) + names(third)
    assert sorted(seen) == [f"model-{index}" for index in range(5)]
    assert seen[:2] == ["model-1", "model-3"]  # NULL parameter counts last, ties by id
    refused = anonymous.get("/api/v1/models/", {"ordering": "description"})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "ordering"


@pytest.mark.parametrize("page_size", ["0", "-1", "abc", "1.5"])
def test_an_invalid_page_size_gets_a_400(anonymous, page_size):
    response = anonymous.get("/api/v1/models/", {"page_size": page_size})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "page_size"


def test_a_large_page_size_is_capped(anonymous):
    factories.model()
    assert anonymous.get("/api/v1/models/", {"page_size": "100000"}).status_code == 200


def test_a_page_past_the_end_is_a_json_404(anonymous):
    response = anonymous.get("/api/v1/models/", {"page": 9})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_unknown_id_is_a_json_404(anonymous):
    response = anonymous.get("/api/v1/models/999999999999999999999/")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_an_unknown_path_under_api_is_a_json_404(anonymous):
    for path in ("/api/v1/nothing/", "/api/v1/models", "/api/"):
        response = anonymous.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"


def test_a_wrong_method_is_a_json_405(anonymous, staff):
    for client in (anonymous, staff):
        response = client.delete("/api/v1/models/")
        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"


def test_nul_bytes_in_query_parameters_get_a_400(anonymous):
    response = anonymous.get("/api/v1/models/", {"q": "a\x00b"})
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_anonymous_reads_can_be_switched_off(anonymous, reader, settings):
    settings.API_ANONYMOUS_READ = False
    assert anonymous.get("/api/v1/models/").status_code == 401
    assert reader.get("/api/v1/models/").status_code == 200


def test_signed_in_browsers_read_with_their_session(client, django_user_model, settings):
    settings.API_ANONYMOUS_READ = False
    client.force_login(django_user_model.objects.create_user("browser"))
    assert client.get("/api/v1/models/").status_code == 200
