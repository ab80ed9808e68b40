"""POST /api/v1/imports/lm-eval/: result files through the importer of `manage.py import_lm_eval`."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evaluations.models import Benchmark, Checkpoint, Evaluation, Metric, ModelFamily
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/api/v1/imports/lm-eval/"


def lm_eval_file(*, pretrained="EleutherAI/pythia-160m-deduped", revision="step1000", acc=0.5) -> dict:
    """A small lm-evaluation-harness 0.4 result file."""
    return {
        "results": {
            "arc_easy": {"alias": "arc_easy", "acc,none": acc, "acc_stderr,none": 0.01, "acc_norm,none": 0.4},
        },
        "n-shot": {"arc_easy": 0},
        "versions": {"arc_easy": 1.0},
        "higher_is_better": {"arc_easy": {"acc": True, "acc_norm": True}},
        "config": {"model": "hf", "model_args": f"pretrained={pretrained},revision={revision}"},
    }


def upload(name: str, document) -> SimpleUploadedFile:
    content = document if isinstance(document, bytes) else json.dumps(document).encode()
    return SimpleUploadedFile(name, content, content_type="application/json")


def test_an_uploaded_file_is_imported_with_the_importers_inference(creator):
    response = creator.post(URL, {"files": [upload("a.json", lm_eval_file())]}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["created"], body["unchanged"]) == (1, 0)
    checkpoint = Checkpoint.objects.get(pk=body["files"][0]["checkpoint"])
    assert (checkpoint.training.model.name, checkpoint.training.name, checkpoint.step) == (
        "pythia-160m",
        "pythia-160m-deduped",
        1000,
    )
    evaluation = Evaluation.objects.get()
    assert (evaluation.source, evaluation.benchmark.slug, evaluation.benchmark.version) == ("import", "arc_easy", "1.0")


def test_uploading_the_same_file_again_changes_nothing(creator):
    assert creator.post(URL, {"files": [upload("a.json", lm_eval_file())]}, format="multipart").status_code == 201
    again = creator.post(URL, {"files": [upload("a.json", lm_eval_file())]}, format="multipart")
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 1)
    assert Evaluation.objects.count() == 1


def test_several_files_and_overrides_in_one_upload(creator):
    files = [upload("a.json", lm_eval_file(acc=0.5)), upload("b.json", lm_eval_file(acc=0.6, revision="main"))]
    body = {"files": files, "model": "mine", "training": "mine-run", "step": 77}
    response = creator.post(URL, body, format="multipart")
    assert response.status_code == 201, response.json()
    assert [f["name"] for f in response.json()["files"]] == ["a.json", "b.json"]
    assert set(Checkpoint.objects.values_list("training__model__name", "training__name", "step")) == {
        ("mine", "mine-run", 77)
    }
    assert Evaluation.objects.count() == 2


def test_a_json_body_carries_documents(creator):
    body = {"files": [{"name": "run.json", "content": lm_eval_file()}], "step": 5}
    response = creator.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    assert Checkpoint.objects.get().step == 5


def test_one_bad_file_refuses_the_upload_with_a_per_file_error(creator):
    files = [
        upload("good.json", lm_eval_file()),
        upload("bad.json", {"results": {}}),
        upload("broken.json", b"{not json"),
    ]
    response = creator.post(URL, {"files": files}, format="multipart")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, "files"), (2, "files")]
    assert errors[0]["message"].startswith("bad.json: ")
    assert "not valid JSON" in errors[1]["message"]
    assert not Evaluation.objects.exists()
    assert not Benchmark.objects.exists()


def test_a_revision_without_a_step_is_refused_unless_a_step_is_given(creator):
    document = lm_eval_file(revision="a1b2c3")
    refused = creator.post(URL, {"files": [{"name": "x.json", "content": document}]}, format="json")
    assert refused.status_code == 400
    assert "names no training step" in refused.json()["errors"][0]["message"]
    accepted = creator.post(URL, {"files": [{"name": "x.json", "content": document}], "step": 3}, format="json")
    assert accepted.status_code == 201


def test_too_many_files_get_a_400(writer, settings):
    settings.API_MAX_FILES_PER_UPLOAD = 1
    files = [upload("a.json", lm_eval_file()), upload("b.json", lm_eval_file())]
    response = writer.post(URL, {"files": files}, format="multipart")
    assert response.status_code == 400
    assert "At most 1 files" in response.json()["detail"]


def test_an_oversized_upload_gets_a_413(writer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    response = writer.post(URL, {"files": [upload("a.json", lm_eval_file())]}, format="multipart")
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [{}, {"files": []}, {"files": [{"name": "a"}]}, {"files": [{"name": "a", "content": {}}], "step": -1}],
)
def test_invalid_json_uploads_get_a_400(writer, body):
    assert writer.post(URL, body, format="json").status_code == 400


def test_importing_needs_a_token_with_the_add_permission(anonymous, reader, staff):
    body = {"files": [{"name": "a.json", "content": lm_eval_file()}]}
    assert anonymous.post(URL, body, format="json").status_code == 401
    assert reader.post(URL, body, format="json").status_code == 403
    assert staff.post(URL, body, format="json").status_code == 201


def test_an_uploaded_result_shows_up_in_the_api(creator, anonymous):
    creator.post(URL, {"files": [upload("a.json", lm_eval_file())]}, format="multipart")
    rows = anonymous.get("/api/v1/evaluations/").json()["results"]
    assert [(row["benchmark"]["slug"], row["step"]) for row in rows] == [("arc_easy", 1000)]


def test_a_token_that_may_not_create_benchmarks_cannot_upload_a_new_one(writer):
    response = writer.post(URL, {"files": [upload("a.json", lm_eval_file())]}, format="multipart")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert "Unknown benchmark 'arc_easy'" in error["message"]
    assert "may not create benchmarks" in error["message"]
    assert (Benchmark.objects.count(), Metric.objects.count(), Evaluation.objects.count()) == (0, 0, 0)
    assert not ModelFamily.objects.exists()


def test_a_token_that_may_not_create_metrics_cannot_upload_a_new_one(writer):
    arc = factories.benchmark(slug="arc_easy", version="1.0")
    factories.metric(benchmark=arc, key="acc")
    response = writer.post(URL, {"files": [upload("a.json", lm_eval_file())]}, format="multipart")
    assert response.status_code == 400
    assert "Unknown metric(s) of arc_easy: acc_norm;" in response.json()["errors"][0]["message"]
    assert (Metric.objects.count(), Evaluation.objects.count()) == (1, 0)
