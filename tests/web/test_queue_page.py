"""The queue page says what the queue holds (jobs for workers, not imported results) and leads to finished work."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from evaluations.models import Evaluation
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/queue/"
Status, Source = Evaluation.Status, Evaluation.Source


def _text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def _rows(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="evaluation-(\d+)"', response.content.decode())]


@pytest.fixture
def imported():
    """Results imported a minute ago: finished, but never queued."""
    finished = timezone.now() - timedelta(minutes=1)
    return [factories.evaluation(status=Status.SUCCEEDED, source=Source.IMPORT, finished_at=finished) for _ in range(3)]


def test_an_empty_queue_beside_fresh_imports_says_what_it_holds_and_where_the_results_are(client, imported):
    response = client.get(URL)
    text = _text(response)
    assert "The queue holds 0 jobs waiting for a worker and 0 running (leased to one)." in text
    assert "Imported results never pass through it" in text
    assert "0 evaluations waiting, running or failed, or finished by a worker this week." in text
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', response.content.decode())
    assert ("/queue/?status=succeeded", "every finished evaluation, imports included") in links
    assert ("/#recent-heading", "the latest results") in links


def test_the_finished_work_link_lists_the_imported_results(client, imported):
    response = client.get(URL, {"status": "succeeded"})
    assert sorted(_rows(response)) == sorted(e.pk for e in imported)
    assert "3 evaluations match these filters." in _text(response)


def test_the_queue_counts_waiting_and_leased_jobs_whatever_the_filters(client, imported, django_assert_max_num_queries):
    for _ in range(2):
        factories.evaluation(status=Status.PENDING, source=Source.WEB)
    factories.evaluation(status=Status.RUNNING, source=Source.WEB, worker="gpu-1")
    factories.evaluation(status=Status.FAILED, source=Source.WEB)
    with django_assert_max_num_queries(9):
        response = client.get(URL, {"status": "failed"})
    text = _text(response)
    assert "The queue holds 2 jobs waiting for a worker and 1 running (leased to one)." in text
    assert "1 evaluation matches these filters." in text
    assert len(_rows(response)) == 1
