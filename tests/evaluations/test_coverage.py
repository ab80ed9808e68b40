import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations.models import Evaluation
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/coverage/"
REQUEST_URL = "/coverage/request/"
PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    Evaluation.Status.PENDING,
    Evaluation.Status.RUNNING,
    Evaluation.Status.SUCCEEDED,
    Evaluation.Status.FAILED,
    Evaluation.Status.CANCELLED,
)


def _text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def _cells(response) -> dict[tuple[str, str], str]:
    """{(checkpoint, benchmark name): state} as the matrix shows it."""
    cells = {}
    for row in re.findall(r"<tr>(.*?)</tr>", response.content.decode(), re.S):
        header = re.search(r'<th scope="row"[^>]* title="[^"]* · ([^"]+)"', row)
        if header is None:
            continue
        for benchmark, state in re.findall(r'<td class="cell cell--\w+" title="([^"]+): (\w+)">', row):
            cells[(unescape(header.group(1)), unescape(benchmark))] = state
    return cells


def _evaluate(checkpoint, benchmark, *statuses):
    for status in statuses:
        factories.evaluation(checkpoint_obj=checkpoint, benchmark_obj=benchmark, status=status)


@pytest.fixture
def matrix():
    """Two checkpoints × four benchmarks, one cell of each state on the first checkpoint."""
    training = factories.training(name="pythia-160m", model=factories.model(name="pythia"))
    first = factories.checkpoint(training=training, step=1000)
    second = factories.checkpoint(training=training, step=2000)
    done, failed, pending, missing = (
        factories.benchmark(slug=slug, name=slug, category="reasoning")
        for slug in ("done", "failed", "pending", "missing")
    )
    _evaluate(first, done, FAILED, SUCCEEDED)
    _evaluate(first, failed, FAILED, CANCELLED)
    _evaluate(first, pending, FAILED, PENDING)
    _evaluate(first, missing, CANCELLED)
    _evaluate(second, pending, RUNNING)
    return {"first": first, "second": second, "done": done, "failed": failed, "pending": pending, "missing": missing}


@pytest.fixture
def requester(client):
    user = factories.user(username="requester", perms=("evaluations.add_evaluation",))
    client.force_login(user)
    client.user = user
    return client


def _open_jobs() -> set[tuple[int, int]]:
    return set(Evaluation.objects.filter(status__in=[PENDING, RUNNING]).values_list("checkpoint_id", "benchmark_id"))


# The matrix


def test_cells_show_done_failed_pending_running_and_missing(client, matrix):
    response = client.get(URL)

    assert response.status_code == 200
    assert _cells(response) == {
        ("pythia-160m @ step 1000", "done"): "done",
        ("pythia-160m @ step 1000", "failed"): "failed",
        ("pythia-160m @ step 1000", "pending"): "pending",
        ("pythia-160m @ step 1000", "missing"): "missing",
        ("pythia-160m @ step 2000", "done"): "missing",
        ("pythia-160m @ step 2000", "failed"): "missing",
        ("pythia-160m @ step 2000", "pending"): "running",
        ("pythia-160m @ step 2000", "missing"): "missing",
    }


def test_each_cell_has_text_for_screen_readers_and_the_page_a_legend(client, matrix):
    html = client.get(URL).content.decode()

    assert '<span aria-hidden="true">✓</span><span class="visually-hidden">done</span>' in html
    assert '<span class="visually-hidden">missing</span>' in html
    assert 'aria-label="Legend"' in html
    assert "Failed : attempted and failed, no result yet" in _text(client.get(URL))


def test_column_headers_carry_the_full_benchmark_name(client):
    factories.checkpoint()
    factories.benchmark(slug="hendrycksTest-high_school_macroeconomics", name="MMLU high school macroeconomics")

    html = client.get(URL).content.decode()

    assert 'title="MMLU high school macroeconomics (0-shot)"' in html
    assert '<span class="visually-hidden">MMLU high school macroeconomics (0-shot)</span>' in html


def test_rows_filter_by_model_and_training(client, matrix):
    other = factories.checkpoint(training=factories.training(name="other-run", model=factories.model(name="other")))

    by_model = _cells(client.get(URL, {"model": other.training.model_id}))
    by_training = _cells(client.get(URL, {"training": matrix["first"].training_id}))

    assert {checkpoint for checkpoint, _ in by_model} == {"other-run @ step 1000"}
    assert {checkpoint for checkpoint, _ in by_training} == {"pythia-160m @ step 1000", "pythia-160m @ step 2000"}


def test_latest_only_keeps_the_last_checkpoint_of_each_training(client, matrix):
    other = factories.checkpoint(training=factories.training(name="other-run"), step=5)

    rows = {checkpoint for checkpoint, _ in _cells(client.get(URL, {"latest_only": "on"}))}

    assert rows == {"pythia-160m @ step 2000", str(other)}


def test_columns_are_active_benchmarks_of_the_chosen_category(client, matrix):
    factories.benchmark(slug="bbq", name="bbq", category="bias")
    factories.benchmark(slug="retired", name="retired", category="bias", is_active=False)

    default = {benchmark for _, benchmark in _cells(client.get(URL))}
    bias = {benchmark for _, benchmark in _cells(client.get(URL, {"category": "bias"}))}
    with_inactive = {
        benchmark for _, benchmark in _cells(client.get(URL, {"category": "bias", "include_inactive": "on"}))
    }

    assert default == {"done", "failed", "pending", "missing", "bbq"}
    assert bias == {"bbq"}
    assert with_inactive == {"bbq", "retired"}


def test_rows_are_paginated_and_bad_page_numbers_fall_back(client):
    training = factories.training(name="long-run")
    for step in range(51):
        factories.checkpoint(training=training, step=step)
    factories.benchmark()

    first, second = client.get(URL), client.get(URL, {"page": 2})
    garbage, beyond = client.get(URL, {"page": "abc"}), client.get(URL, {"page": 99999})

    assert [r.status_code for r in (first, second, garbage, beyond)] == [200, 200, 200, 200]
    assert len({c for c, _ in _cells(first)}) == 50
    assert {c for c, _ in _cells(second)} == {"long-run @ step 50"}
    assert _cells(garbage) == _cells(first)
    assert _cells(beyond) == _cells(second)
    assert "Next checkpoints" in _text(first)


def test_benchmark_columns_are_capped_and_paginated(client):
    factories.checkpoint()
    for number in range(30):
        factories.benchmark(slug=f"task-{number:02d}", name=f"task-{number:02d}")

    first = {b for _, b in _cells(client.get(URL))}
    second = {b for _, b in _cells(client.get(URL, {"columns": 2}))}

    assert len(first) == 25
    assert second == {f"task-{number:02d}" for number in range(25, 30)}


@pytest.mark.parametrize(
    "params",
    [
        {"model": "abc"},
        {"training": "99999999999999999999"},
        {"category": "no-such-category"},
        {"model": "1\x00"},
        {"category": "reasoning\x00"},
        {"latest_only": "\x00"},
    ],
)
def test_bad_filter_values_answer_400_with_a_message_not_500(client, matrix, params):
    response = client.get(URL, params)

    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert 'class="field-error"' in response.content.decode()


def test_htmx_requests_get_only_the_matrix(client, matrix):
    response = client.get(URL, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    assert html.lstrip().startswith('<section id="matrix"')
    assert "<html" not in html


def _query_count(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL)
    assert response.status_code == 200
    return len(captured.captured_queries)


def _add_checkpoints(count: int) -> None:
    benchmarks = [factories.benchmark(category=category) for category in ("reasoning", "bias", "")]
    for _ in range(count):
        checkpoint = factories.checkpoint()
        _evaluate(checkpoint, benchmarks[0], SUCCEEDED)
        _evaluate(checkpoint, benchmarks[1], FAILED, PENDING)


@pytest.mark.parametrize("signed_in", [False, True])
def test_query_count_does_not_grow_with_checkpoints(client, signed_in):
    if signed_in:
        client.force_login(factories.user(perms=("evaluations.add_evaluation",)))
    _add_checkpoints(2)
    few = _query_count(client)
    _add_checkpoints(8)
    many = _query_count(client)

    assert few == many
    assert many <= 12


# Asking for the missing cells


def test_anonymous_visitors_are_asked_to_sign_in(client, matrix):
    response = client.get(URL)

    assert "Sign in to request the missing evaluations." in _text(response)
    assert 'id="request-missing"' not in response.content.decode()


def test_accounts_without_permission_see_why_they_cannot_request(client, matrix):
    client.force_login(factories.user())

    text = _text(client.get(URL))

    assert "Your account can't request evaluations" in text
    assert 'id="request-missing"' not in text


def _page_post(matrix, **extra) -> dict:
    data = {
        "checkpoint": [matrix["first"].pk, matrix["second"].pk],
        "benchmark": [matrix[name].pk for name in ("done", "failed", "pending", "missing")],
        "next": "/coverage/?category=reasoning",
    }
    return data | extra


def test_request_creates_exactly_the_missing_evaluations(requester, matrix):
    before = Evaluation.objects.count()
    first, second = matrix["first"], matrix["second"]

    response = requester.post(REQUEST_URL, _page_post(matrix))

    assert response.status_code == 302
    assert response["Location"] == "/coverage/?category=reasoning"
    created = Evaluation.objects.filter(requested_by=requester.user)
    assert {(e.checkpoint_id, e.benchmark_id) for e in created} == {
        (first.pk, matrix["missing"].pk),
        (second.pk, matrix["done"].pk),
        (second.pk, matrix["failed"].pk),
        (second.pk, matrix["missing"].pk),
    }
    assert {(e.status, e.source) for e in created} == {(PENDING, Evaluation.Source.WEB)}
    assert Evaluation.objects.count() == before + 4
    # The pending and running cells kept their single open job.
    assert Evaluation.objects.filter(benchmark=matrix["pending"], status__in=[PENDING, RUNNING]).count() == 2
    assert "Requested 4 evaluations (2 were already pending)." in _text(requester.get(response["Location"]))


def test_requesting_twice_creates_nothing_more(requester, matrix):
    requester.post(REQUEST_URL, _page_post(matrix))
    count = Evaluation.objects.count()

    response = requester.post(REQUEST_URL, _page_post(matrix), follow=True)

    assert Evaluation.objects.count() == count
    assert "Requested 0 evaluations (6 were already pending)." in _text(response)


def test_failed_cells_are_retried_only_when_asked(requester, matrix):
    requester.post(REQUEST_URL, _page_post(matrix))
    assert (matrix["first"].pk, matrix["failed"].pk) not in _open_jobs()

    requester.post(REQUEST_URL, _page_post(matrix, retry_failed="1"))

    assert (matrix["first"].pk, matrix["failed"].pk) in _open_jobs()


def test_a_row_button_requests_only_that_row(requester, matrix):
    requester.post(REQUEST_URL, _page_post(matrix, row=matrix["second"].pk))

    created = Evaluation.objects.filter(requested_by=requester.user)
    assert {e.checkpoint_id for e in created} == {matrix["second"].pk}
    assert created.count() == 3


def test_the_request_button_and_row_buttons_are_shown_with_permission(requester, matrix):
    html = requester.get(URL).content.decode()

    assert 'id="request-missing"' in html
    assert "Request the missing evaluations" in html
    assert f'name="row" value="{matrix["second"].pk}"' in html
    assert f'<input type="hidden" name="checkpoint" value="{matrix["first"].pk}">' in html


def test_anonymous_post_redirects_to_sign_in(client, matrix):
    count = Evaluation.objects.count()

    response = client.post(REQUEST_URL, _page_post(matrix))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert Evaluation.objects.count() == count


def test_post_without_permission_is_forbidden_with_the_friendly_page(client, matrix):
    client.force_login(factories.user())
    count = Evaluation.objects.count()

    response = client.post(REQUEST_URL, _page_post(matrix))

    assert response.status_code == 403
    assert "You can't do that here" in _text(response)
    assert Evaluation.objects.count() == count


def test_request_accepts_only_post(requester):
    assert requester.get(REQUEST_URL).status_code == 405


@pytest.mark.parametrize(
    "changes",
    [
        {"checkpoint": ["abc"]},
        {"checkpoint": ["99999999"]},
        {"checkpoint": ["1\x00"]},
        {"benchmark": ["99999999"]},
        {"benchmark": []},
        {"row": "abc"},
        {"row": "99999999"},
        {"checkpoint": [str(n) for n in range(1, 300)]},
    ],
)
def test_bad_posts_request_nothing_and_say_why(requester, matrix, changes):
    count = Evaluation.objects.count()

    response = requester.post(REQUEST_URL, _page_post(matrix, **changes), follow=True)

    assert response.status_code == 200
    assert "Nothing was requested:" in _text(response)
    assert Evaluation.objects.count() == count


def test_inactive_benchmarks_are_not_requested(requester, matrix):
    matrix["missing"].is_active = False
    matrix["missing"].save()

    response = requester.post(REQUEST_URL, _page_post(matrix), follow=True)

    assert "is not an active benchmark" in _text(response)
    assert not Evaluation.objects.filter(requested_by=requester.user).exists()


def test_the_redirect_never_leaves_the_site(requester, matrix):
    response = requester.post(REQUEST_URL, _page_post(matrix, next="https://evil.example/"))

    assert response["Location"] == "/coverage/"
