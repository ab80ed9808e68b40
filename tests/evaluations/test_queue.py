import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evaluations.models import Evaluation
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/queue/"
REQUEST_URL = "/evaluations/request/"
PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    Evaluation.Status.PENDING,
    Evaluation.Status.RUNNING,
    Evaluation.Status.SUCCEEDED,
    Evaluation.Status.FAILED,
    Evaluation.Status.CANCELLED,
)


def _text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def _rows(response) -> list[int]:
    """The evaluation ids the queue table lists, in order."""
    return [int(pk) for pk in re.findall(r'<tr id="evaluation-(\d+)"', response.content.decode())]


def _job(status=PENDING, *, days_ago: float | None = None, **fields) -> Evaluation:
    fields.setdefault("source", Evaluation.Source.WEB)
    if days_ago is not None:
        fields["finished_at"] = timezone.now() - timedelta(days=days_ago)
    return factories.evaluation(status=status, **fields)


@pytest.fixture
def jobs():
    return {
        "pending": _job(PENDING),
        "running": _job(RUNNING, worker="gpu-node-3", attempts=1),
        "failed_long_ago": _job(FAILED, days_ago=60, error="RuntimeError: CUDA out of memory"),
        "succeeded_recently": _job(SUCCEEDED, days_ago=1),
        "cancelled_recently": _job(CANCELLED, days_ago=2),
        "succeeded_long_ago": _job(SUCCEEDED, days_ago=30),
        "imported_recently": _job(SUCCEEDED, days_ago=1, source=Evaluation.Source.IMPORT),
    }


def _canceller(client, **kwargs):
    user = factories.user(perms=("evaluations.change_evaluation",), **kwargs)
    client.force_login(user)
    return user


# The queue


def test_by_default_the_queue_shows_open_failed_and_recently_finished_jobs(client, jobs):
    response = client.get(URL)

    assert response.status_code == 200
    shown = set(_rows(response))
    expected = ("pending", "running", "failed_long_ago", "succeeded_recently", "cancelled_recently")
    assert shown == {jobs[name].pk for name in expected}


def test_any_status_shows_everything(client, jobs):
    assert set(_rows(client.get(URL, {"status": "all"}))) == {job.pk for job in jobs.values()}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", {"pending", "running"}),
        ("pending", {"pending"}),
        ("failed", {"failed_long_ago"}),
        ("succeeded", {"succeeded_recently", "succeeded_long_ago", "imported_recently"}),
    ],
)
def test_status_filter(client, jobs, status, expected):
    assert set(_rows(client.get(URL, {"status": status}))) == {jobs[name].pk for name in expected}


def test_benchmark_model_and_source_filters(client, jobs):
    benchmark = jobs["running"].benchmark
    model = jobs["pending"].checkpoint.training.model

    assert _rows(client.get(URL, {"benchmark": benchmark.pk})) == [jobs["running"].pk]
    assert _rows(client.get(URL, {"model": model.pk})) == [jobs["pending"].pk]
    assert _rows(client.get(URL, {"status": "all", "source": "import"})) == [jobs["imported_recently"].pk]


def test_requested_by_me_filter(client, jobs):
    me = factories.user()
    mine = _job(PENDING, requested_by=me)
    client.force_login(me)

    assert _rows(client.get(URL, {"mine": "on"})) == [mine.pk]
    assert len(_rows(client.get(URL))) == 6


def test_anonymous_visitors_have_no_requested_by_me_filter(client, jobs):
    response = client.get(URL, {"mine": "on"})

    assert 'name="mine"' not in response.content.decode()
    assert len(_rows(response)) == 5


def test_columns_show_who_where_and_why(client):
    user = factories.user(username="alice")
    error = "Traceback (most recent call last):\n  File 'x.py'\nRuntimeError: CUDA out of memory " + "x" * 100
    checkpoint = factories.checkpoint(training=factories.training(name="pythia-160m"), step=3000)
    _job(FAILED, days_ago=0, requested_by=user, worker="gpu-node-3", attempts=2, error=error, checkpoint_obj=checkpoint)

    response = client.get(URL)

    html, text = response.content.decode(), _text(response)
    assert f'href="{checkpoint.get_absolute_url()}">pythia-160m @ step 3000</a>' in html
    assert '<span class="status status--failed">Failed</span>' in html
    assert "alice" in text
    assert "gpu-node-3" in text
    # The last line of the traceback is the preview; the whole text is in the details.
    assert "<summary>RuntimeError: CUDA out of memory xxx" in html
    assert "File &#x27;x.py&#x27;" in html


def test_newest_first_and_sortable(client):
    first, second, third = (_job(PENDING, attempts=attempts) for attempts in (2, 0, 1))

    assert _rows(client.get(URL)) == [third.pk, second.pk, first.pk]
    assert _rows(client.get(URL, {"sort": "attempts"})) == [second.pk, third.pk, first.pk]
    assert _rows(client.get(URL, {"sort": "-attempts"})) == [first.pk, third.pk, second.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "no_such_column"},
        {"sort": "error"},
        {"page": "abc"},
        {"page": "99999"},
        {"page": "\x00"},
        {"status": "bogus"},
        {"status": "pending\x00"},
        {"benchmark": "abc"},
        {"benchmark": "99999999999999999999"},
        {"model": "1\x00"},
        {"source": "\x00"},
    ],
)
def test_bad_parameters_never_answer_500(client, jobs, params):
    response = client.get(URL, params)

    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert 'class="field-error"' in response.content.decode()


def test_pages_of_fifty(client):
    for _ in range(51):
        _job(PENDING)

    first, second, beyond = client.get(URL), client.get(URL, {"page": 2}), client.get(URL, {"page": 99999})

    assert len(_rows(first)) == 50
    assert len(_rows(second)) == 1
    assert _rows(beyond) == _rows(second)


def test_htmx_requests_get_only_the_results(client, jobs):
    response = client.get(URL, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    assert response.content.decode().lstrip().startswith('<section id="results"')


def _query_count(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL)
    assert response.status_code == 200
    return len(captured.captured_queries)


def _add_jobs(count: int, user) -> None:
    for status in [PENDING, RUNNING, FAILED, SUCCEEDED, CANCELLED] * (count // 5 + 1):
        _job(status, days_ago=None if status in (PENDING, RUNNING) else 0, requested_by=user)


@pytest.mark.parametrize("signed_in", [False, True])
def test_query_count_does_not_grow_with_jobs(client, signed_in):
    user = factories.user(perms=("evaluations.change_evaluation",))
    if signed_in:
        client.force_login(user)
    _add_jobs(2, user)
    few = _query_count(client)
    _add_jobs(10, user)
    many = _query_count(client)

    assert few == many
    assert many <= 9  # one of them counts the jobs waiting and running, whatever the filters


# Cancelling


def test_cancel_buttons_are_shown_only_to_those_who_may_cancel(client, jobs):
    assert "Cancel" not in _text(client.get(URL)).replace("Cancelled", "")
    client.force_login(factories.user())
    assert 'id="cancel-form"' not in client.get(URL).content.decode()

    _canceller(client)

    html = client.get(URL).content.decode()
    assert 'id="cancel-form"' in html
    assert f'formaction="/queue/{jobs["pending"].pk}/cancel/"' in html
    assert f'formaction="/queue/{jobs["running"].pk}/cancel/"' not in html


def test_cancelling_a_pending_job(client, jobs):
    _canceller(client)

    response = client.post(f"/queue/{jobs['pending'].pk}/cancel/", {"next": "/queue/?status=all"})

    assert response.status_code == 302
    assert response["Location"] == "/queue/?status=all"
    jobs["pending"].refresh_from_db()
    assert jobs["pending"].status == CANCELLED
    assert jobs["pending"].finished_at is not None
    assert "Cancelled" in _text(client.get(response["Location"]))


def test_staff_may_cancel(client, jobs):
    client.force_login(factories.user(is_staff=True))

    client.post(f"/queue/{jobs['pending'].pk}/cancel/")

    jobs["pending"].refresh_from_db()
    assert jobs["pending"].status == CANCELLED


def test_a_running_job_is_not_cancelled(client, jobs):
    _canceller(client)

    response = client.post(f"/queue/{jobs['running'].pk}/cancel/", follow=True)

    jobs["running"].refresh_from_db()
    assert jobs["running"].status == RUNNING
    assert "Only pending jobs can be cancelled: this one is running." in _text(response)


def test_cancel_needs_a_signed_in_user_with_permission(client, jobs):
    url = f"/queue/{jobs['pending'].pk}/cancel/"

    anonymous = client.post(url)
    client.force_login(factories.user(perms=("evaluations.add_evaluation",)))
    forbidden = client.post(url)

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert forbidden.status_code == 403
    jobs["pending"].refresh_from_db()
    assert jobs["pending"].status == PENDING


def test_cancel_answers_404_for_unknown_jobs_and_405_for_get(client, jobs):
    _canceller(client)

    assert client.post("/queue/99999999/cancel/").status_code == 404
    assert client.get(f"/queue/{jobs['pending'].pk}/cancel/").status_code == 405


# Requesting evaluations of a checkpoint


@pytest.fixture
def requester(client):
    user = factories.user(username="requester", perms=("evaluations.add_evaluation",))
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def choices():
    checkpoint = factories.checkpoint(training=factories.training(name="pythia-160m"), step=1000)
    benchmarks = {
        slug: factories.benchmark(slug=slug, name=slug, category=category)
        for slug, category in [("arc_easy", "reasoning"), ("piqa", "reasoning"), ("bbq", "bias"), ("old", "bias")]
    }
    benchmarks["old"].is_active = False
    benchmarks["old"].save()
    return {"checkpoint": checkpoint, **benchmarks}


def test_the_request_form_offers_trainings_by_model_then_the_steps_of_the_chosen_one(requester, choices):
    training = choices["checkpoint"].training
    factories.checkpoint(training=training, step=200)
    factories.checkpoint(training=factories.training(name="other", model_name="other-model"), step=5)

    response = requester.get(REQUEST_URL)

    html, text = response.content.decode(), _text(response)
    assert response.status_code == 200
    assert re.search(rf'<optgroup label="{training.model.name}">\s*<option value="{training.pk}">pythia-160m \(2', html)
    assert "Choose a training above" in text
    assert 'name="checkpoint"' not in html  # no list of every checkpoint
    assert "Bias bbq (0-shot)" in text
    assert "Reasoning arc_easy (0-shot) piqa (0-shot)" in text
    assert "old (0-shot)" not in text

    response = requester.get(REQUEST_URL, {"training": training.pk})

    checkpoint_list = re.search(r'<select name="checkpoint".*?</select>', response.content.decode(), re.S).group(0)
    options = re.findall(r"<option value=\"\d+\">([^<]*)</option>", checkpoint_list)
    assert options == ["pythia-160m @ step 200", "pythia-160m @ step 1,000"]  # steps in order, one training only
    assert f'<input type="hidden" name="training" value="{training.pk}">' in response.content.decode()


@pytest.mark.parametrize("value", ["abc", "99999999", "\x00", "1.5"])
def test_an_unknown_training_is_a_form_error_naming_the_field(requester, choices, value):
    response = requester.get(REQUEST_URL, {"training": value})

    assert response.status_code == 200
    assert "There is no training" in _text(response)
    assert 'name="checkpoint"' not in response.content.decode()


def test_a_checkpoint_of_another_training_than_listed_still_validates(requester, choices):
    other = factories.checkpoint(training=factories.training(name="other"), step=5)
    data = {"training": choices["checkpoint"].training_id, "checkpoint": other.pk, "benchmarks": [choices["bbq"].pk]}

    assert requester.post(REQUEST_URL, data).status_code == 302
    assert Evaluation.objects.get().checkpoint == other


def test_a_checkpoint_can_be_preselected_and_its_open_jobs_are_marked(requester, choices):
    checkpoint = choices["checkpoint"]
    _job(PENDING, checkpoint_obj=checkpoint, benchmark_obj=choices["piqa"])
    _job(SUCCEEDED, checkpoint_obj=checkpoint, benchmark_obj=choices["arc_easy"])

    response = requester.get(REQUEST_URL, {"checkpoint": checkpoint.pk})

    html, text = response.content.decode(), _text(response)
    assert f'<option value="{checkpoint.pk}" selected>' in html
    assert "arc_easy (0-shot) done" in text
    assert "piqa (0-shot) pending" in text


@pytest.mark.parametrize("value", ["abc", "99999999", "\x00", "99999999999999999999"])
def test_a_bad_preselected_checkpoint_is_ignored(requester, choices, value):
    response = requester.get(REQUEST_URL, {"checkpoint": value})

    assert response.status_code == 200
    assert not re.search(r'<option value="\d+" selected>', response.content.decode())


def test_requesting_creates_pending_evaluations_but_no_duplicates(requester, choices):
    checkpoint = choices["checkpoint"]
    already = _job(PENDING, checkpoint_obj=checkpoint, benchmark_obj=choices["piqa"])
    data = {"checkpoint": checkpoint.pk, "benchmarks": [choices["arc_easy"].pk, choices["piqa"].pk, choices["bbq"].pk]}

    response = requester.post(REQUEST_URL, data)

    assert response.status_code == 302
    assert response["Location"] == URL
    created = Evaluation.objects.filter(requested_by=requester.user)
    assert {(e.benchmark.slug, e.status, e.source) for e in created} == {
        ("arc_easy", PENDING, Evaluation.Source.WEB),
        ("bbq", PENDING, Evaluation.Source.WEB),
    }
    assert list(Evaluation.objects.filter(benchmark=choices["piqa"])) == [already]
    text = _text(requester.get(URL))
    assert "Requested 2 evaluations of pythia-160m @ step 1000." in text
    assert "Already pending or running, not requested again: piqa (0-shot)." in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"checkpoint": "abc", "benchmarks": ["{arc_easy}"]}, "There is no checkpoint abc."),
        ({"checkpoint": "99999999", "benchmarks": ["{arc_easy}"]}, "There is no checkpoint 99999999."),
        ({"checkpoint": "\x00", "benchmarks": ["{arc_easy}"]}, "There is no checkpoint"),
        ({"checkpoint": "{checkpoint}", "benchmarks": ["99999999"]}, "99999999 is not an active benchmark."),
        ({"checkpoint": "{checkpoint}", "benchmarks": ["{old}"]}, "is not an active benchmark."),
        ({"checkpoint": "{checkpoint}", "benchmarks": ["x\x00"]}, "is not an active benchmark."),
        ({"checkpoint": "{checkpoint}"}, "Choose at least one benchmark."),
        ({"benchmarks": ["{arc_easy}"]}, "This field is required."),
    ],
)
def test_bad_requests_show_the_form_with_errors_and_create_nothing(requester, choices, data, message):
    ids = {name: obj.pk for name, obj in choices.items()}
    filled = {
        key: [item.format(**ids) for item in value] if isinstance(value, list) else value.format(**ids)
        for key, value in data.items()
    }

    response = requester.post(REQUEST_URL, filled)

    assert response.status_code == 400
    assert message in _text(response)
    assert not Evaluation.objects.exists()


def test_requesting_needs_a_signed_in_user_with_permission(client, choices):
    data = {"checkpoint": choices["checkpoint"].pk, "benchmarks": [choices["bbq"].pk]}

    anonymous_get, anonymous_post = client.get(REQUEST_URL), client.post(REQUEST_URL, data)
    client.force_login(factories.user())
    forbidden_get, forbidden_post = client.get(REQUEST_URL), client.post(REQUEST_URL, data)

    assert anonymous_get.status_code == anonymous_post.status_code == 302
    assert anonymous_post["Location"].startswith("/accounts/login/?next=/evaluations/request/")
    assert forbidden_get.status_code == forbidden_post.status_code == 403
    assert "You can't do that here" in _text(forbidden_post)
    assert not Evaluation.objects.exists()


def test_the_queue_links_to_the_request_form_for_those_who_may_request(client, requester):
    assert f'href="{REQUEST_URL}"' in requester.get(URL).content.decode()
    requester.logout()
    assert f'href="{REQUEST_URL}"' not in client.get(URL).content.decode()
