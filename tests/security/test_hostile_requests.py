"""Requests that used to be a 500 or to hold the site: time-zone offsets the database cannot take, lone surrogates
and overflowing numbers anywhere in a body or an uploaded file, lm-eval uploads with too many tasks, chunked bodies,
and unhandled errors under /api/. Each is a 4xx naming what is at fault (or a JSON 500), and writes nothing."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.response import SimpleTemplateResponse

from evaluations.api import views

from .conftest import api_client, attempt
from .test_hostile_input import LEAKS
from .writes import lm_eval_document, result

pytestmark = pytest.mark.django_db

RESULTS = "/api/v1/results/"
IMPORT = "/api/v1/imports/lm-eval/"


def refused(response, status: int = 400) -> list[str]:
    """The fields a JSON error names, after checking its status; the body never leaks internals."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert [leak for leak in LEAKS if leak in response.content.decode()] == []
    return [error["field"] for error in response.json().get("errors", [])]


@pytest.mark.parametrize("name", ["finished_after", "finished_before"])
@pytest.mark.parametrize(
    "value", ["2026-01-01T00:00:00-16:00", "2026-01-01T00:00:00+23:59", "9999-12-31T23:59:59-15:00"]
)
def test_a_date_filter_the_database_cannot_compare_is_a_400_naming_it(world, name, value):
    response = api_client("anonymous").get("/api/v1/evaluations/", {name: value})
    assert refused(response) == [name]


def test_a_date_filter_with_a_real_offset_still_filters(world):
    client = api_client("anonymous")
    assert client.get("/api/v1/evaluations/", {"finished_before": "2000-01-01T00:00:00+14:00"}).json()["count"] == 0


# Lone surrogates, as JSON writes them ("\ud800"): valid JSON, but no UTF-8 text any database can store.
@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"metrics": {"\ud800": 0.5}}, "metrics.\ufffd"),
        ({"config": {"seed": "\udfff"}}, "config.seed"),
        ({"config": {"\ud800key": 1}}, "config.\ufffdkey"),
        ({"config": {"nested": ["ok", {"deep": "a\ud83d"}]}}, "config.nested.1.deep"),
    ],
)
def test_a_lone_surrogate_anywhere_in_a_result_is_a_400_naming_the_field(world, fields, named):
    body = json.dumps(result(**fields))
    client = api_client("writer")
    response, wrote = attempt(lambda: client.post(RESULTS, body, content_type="application/json"))
    assert refused(response) == [named]
    assert not wrote


def test_a_number_too_large_for_a_float_in_the_config_is_a_400_naming_it(world):
    body = json.dumps(result(config={"lr": 1})).replace('"lr": 1', '"lr": 1e400')  # JSON parses it as infinity
    client = api_client("writer")
    response, wrote = attempt(lambda: client.post(RESULTS, body, content_type="application/json"))
    assert refused(response) == ["config.lr"]
    assert not wrote


def test_a_lone_surrogate_in_an_uploaded_json_document_is_a_400_naming_the_field(world):
    document = lm_eval_document()
    document["config"]["model_args"] += ",note=\ud800"
    body = json.dumps({"files": [{"name": "a.json", "content": document}]})
    client = api_client("writer")
    response, wrote = attempt(lambda: client.post(IMPORT, body, content_type="application/json"))
    assert refused(response) == ["files.0.content.config.model_args"]
    assert not wrote


def test_a_lone_surrogate_in_an_uploaded_file_is_a_400_naming_the_file_and_field(world):
    good = json.dumps(lm_eval_document()).encode()
    bad = good.replace(b'"alias": "arc_easy"', b'"alias": "arc\\ud800"')
    files = [SimpleUploadedFile("a.json", good), SimpleUploadedFile("b.json", bad)]
    client = api_client("writer")
    response, wrote = attempt(lambda: client.post(IMPORT, {"files": files}, format="multipart"))
    assert refused(response) == ["files.1.content.results.arc_easy.alias"]
    assert not wrote


def many_tasks(count: int) -> dict:
    document = lm_eval_document()
    task = document["results"]["arc_easy"]
    document["results"] = {f"task_{n}": task for n in range(count)}
    return document


def test_a_file_with_more_tasks_than_the_limit_is_refused_before_anything_is_written(world, settings):
    settings.API_MAX_TASKS_PER_FILE = 3
    files = [SimpleUploadedFile("ok.json", json.dumps(lm_eval_document()).encode())]
    files.append(SimpleUploadedFile("huge.json", json.dumps(many_tasks(4)).encode()))
    client = api_client("writer")
    response, wrote = attempt(lambda: client.post(IMPORT, {"files": files}, format="multipart"))
    assert refused(response) == ["files"]
    assert response.json()["errors"][0]["index"] == 1
    assert "huge.json: 4 tasks, more than the limit of 3 per file" in response.json()["detail"]
    assert not wrote


def test_an_upload_with_more_tasks_in_all_than_the_limit_is_refused(world, settings):
    settings.API_MAX_TASKS_PER_UPLOAD = 5
    body = json.dumps({"files": [{"name": f"{n}.json", "content": many_tasks(3)} for n in range(2)]})
    client = api_client("writer")
    response, wrote = attempt(lambda: client.post(IMPORT, body, content_type="application/json"))
    assert refused(response) == ["files"]
    assert "limit of 5 tasks per upload" in response.json()["detail"]
    assert not wrote


def test_too_many_files_are_refused_before_any_is_read(world, settings):
    settings.API_MAX_FILES_PER_UPLOAD = 1
    body = json.dumps({"files": [{"content": "no name, not even a document"}] * 2})
    response = api_client("writer").post(IMPORT, body, content_type="application/json")
    assert refused(response) == ["files"]
    assert "At most 1 files per upload, got 2" in response.json()["detail"]


@pytest.mark.parametrize("url", [RESULTS, IMPORT, "/api/v1/evaluations/claim/"])
def test_a_chunked_body_without_a_length_is_a_411_naming_the_header(world, url):
    client = api_client("writer")
    # What gunicorn hands Django for `Transfer-Encoding: chunked`: no CONTENT_LENGTH, so Django reads an empty body.
    send = lambda: client.generic("POST", url, b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked")  # noqa: E731
    response, wrote = attempt(send)
    assert refused(response, 411) == []
    assert "Content-Length" in response.json()["detail"]
    assert not wrote


def test_an_unhandled_error_under_the_api_is_a_json_500_without_its_message(world, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError('SELECT "secret" FROM "evaluations_evaluation"')

    monkeypatch.setattr(views.ModelViewSet, "list", fail)
    client = api_client("anonymous")
    client.raise_request_exception = False
    response = client.get("/api/v1/models/")
    refused(response, 500)
    assert response.json()["code"] == "server_error"
    assert "secret" not in response.content.decode()


def test_an_unhandled_error_on_a_page_keeps_the_html_500(client, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(SimpleTemplateResponse, "render", fail)  # every page renders through it; the 500 page not
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_a_number_too_large_for_a_float_in_an_uploaded_file_is_a_400_naming_it(world):
    raw = json.dumps(lm_eval_document()).replace('"acc_stderr,none": 0.01', '"acc_stderr,none": 1e400').encode()
    client = api_client("writer")
    send = lambda: client.post(IMPORT, {"files": [SimpleUploadedFile("a.json", raw)]}, format="multipart")  # noqa: E731
    response, wrote = attempt(send)
    assert refused(response) == ["files.0.content.results.arc_easy.acc_stderr,none"]
    assert not wrote
