"""Hostile bodies to every API write endpoint: each value of a valid body replaced by hostile ones, malformed and
deeply nested JSON, oversized bodies and uploads. Never a 500 or a leak; a 4xx names the field where one is at
fault, and writes nothing."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evaluations import queue
from tests import factories

from .conftest import api_client, attempt
from .test_hostile_input import LEAKS
from .writes import WRITES, lm_eval_document, write

pytestmark = pytest.mark.django_db

BIG_INTS = [10**30, 2**63, -(2**63) - 1]
HOSTILE = ["' OR 1=1 --", "1; DROP TABLE evaluations_evaluation; --", "a\x00b", "\u202egnp.exe", "🔥", "e\u0301\u0301"]
HOSTILE += ["", "x" * 30000, *BIG_INTS, -1, 1e308, 0.5, True, None, [], {}, [[[[[]]]]]]


@pytest.fixture
def lease(world):
    """The world's running job, held through a lease: the worker endpoints' bodies carry its token."""
    factories.metric(benchmark=world.pending.benchmark, key="acc")
    job = queue.claim("gpu-1")
    world.running = job  # heartbeat, complete and fail act on it
    factories.evaluation(checkpoint_obj=world.checkpoint, benchmark_obj=world.benchmark, status="pending")  # to claim
    return str(job.lease_token)


def body_of(name: str, world, token: str) -> tuple[str, object]:
    url, body = write(name, world)
    if "lease_token" in body:
        body["lease_token"] = token
    return url, body


def leaves(value, path: tuple = ()):
    """The path of every string, number, boolean and null inside a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def leaf(value, path: tuple):
    for part in path:
        value = value[part]
    return value


def replaced(value, path: tuple, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


def check(response, what) -> None:
    assert response.status_code < 500, what
    assert response["Content-Type"] == "application/json", what
    text = response.content.decode()
    assert [leak for leak in LEAKS if leak in text] == [], what


def fault_names(response) -> str:
    body = response.json()
    return " ".join(
        [body["detail"], *(f"{e.get('index', '')} {e['field']} {e['message']}" for e in body.get("errors", []))]
    )


@pytest.mark.parametrize("name", WRITES)
def test_the_valid_bodies_are_accepted(world, lease, name):
    url, body = body_of(name, world, lease)
    client = api_client("staff")
    response, wrote = attempt(lambda: client.post(url, body, format="json"))
    assert response.status_code in (200, 201), response.json()
    assert wrote


@pytest.mark.parametrize("name", WRITES)
def test_each_value_replaced_by_hostile_ones(world, lease, name):
    url, body = body_of(name, world, lease)
    client = api_client("staff")
    for path in leaves(body):
        original = leaf(body, path)
        for value in HOSTILE:
            what = (name, path, repr(value)[:40])
            response, wrote = attempt(lambda: client.post(url, replaced(body, path, value), format="json"))  # noqa: B023
            check(response, what)
            if response.status_code >= 400:
                assert not wrote, what
            if value in BIG_INTS and type(original) is int:  # a whole number out of range is refused
                assert response.status_code == 400, what
                assert str(path[-1]) in fault_names(response), what
            if isinstance(value, str) and "\x00" in value:
                assert response.status_code == 400, what
                assert str(path[-1]) in fault_names(response), what


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


RAW = {
    "empty": b"",
    "truncated object": b'{"model": "m", ',
    "truncated list": b"[1, 2",
    "not json": b"nul",
    "invalid utf-8": b'{"model": "\xff\xfe"}',
    "null": b"null",
    "empty list": b"[]",
    "empty object": b"{}",
    "string": b'"text"',
    "number": b"12",
    "nan": b'{"step": NaN}',
    "huge number": b'{"step": 1e999999}',
    "10,000 nested lists": nested(10_000).encode(),
    "10,000 nested objects": ('{"a":' * 10_000 + "1" + "}" * 10_000).encode(),
    "nested deep inside": json.dumps({"config": json.loads(nested(100)), "model": "m"}).encode(),
}


@pytest.mark.parametrize("name", WRITES)
@pytest.mark.parametrize("raw", RAW, ids=RAW.keys())
def test_malformed_and_deeply_nested_json_gets_a_400(world, lease, name, raw):
    url, _ = body_of(name, world, lease)
    client = api_client("staff")
    response, wrote = attempt(lambda: client.post(url, RAW[raw], content_type="application/json"))
    check(response, raw)
    assert (response.status_code, wrote) == (400, False)
    if "nested" in raw:
        assert "nested more than 64 levels" in response.json()["detail"]


@pytest.mark.parametrize("name", WRITES)
def test_bodies_of_other_types_get_a_415(world, lease, name):
    url, body = body_of(name, world, lease)
    client = api_client("staff")
    response, wrote = attempt(lambda: client.post(url, json.dumps(body), content_type="text/plain"))
    check(response, name)
    assert (response.status_code, wrote) == (415, False)


@pytest.mark.parametrize("name", WRITES)
def test_oversized_bodies_get_a_413(world, lease, name, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    url, body = body_of(name, world, lease)
    padded = {"pad": "x" * 20_000, **body} if isinstance(body, dict) else body
    client = api_client("staff")
    response, wrote = attempt(lambda: client.post(url, padded, format="json"))
    check(response, name)
    assert (response.status_code, wrote) == (413, False)
    assert "limit of 10000 bytes" in response.json()["detail"]


def test_an_oversized_upload_gets_a_413(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000
    document = lm_eval_document() | {"padding": "x" * 20_000}
    upload = SimpleUploadedFile("big.json", json.dumps(document).encode(), content_type="application/json")
    client = api_client("staff")
    response, wrote = attempt(lambda: client.post("/api/v1/imports/lm-eval/", {"files": [upload]}, format="multipart"))
    check(response, "upload")
    assert (response.status_code, wrote) == (413, False)


@pytest.mark.parametrize(
    "content", [b"\x00\x01\x02", b"{", nested(10_000).encode(), b'{"results": {"\x00": 1}}', "é".encode("latin-1")]
)
def test_hostile_uploaded_files_get_a_400(world, content):
    upload = SimpleUploadedFile("a\x00.json", content, content_type="application/json")
    client = api_client("staff")
    response, wrote = attempt(lambda: client.post("/api/v1/imports/lm-eval/", {"files": [upload]}, format="multipart"))
    check(response, content[:20])
    assert (response.status_code, wrote) == (400, False)
