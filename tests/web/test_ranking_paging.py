"""Pages of a ranking: the row count comes with the page's rows, so a page computes its ranking once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations.models import CurrentScore
from tests import factories
from tests.web.test_leaderboard_page import result

pytestmark = pytest.mark.django_db


@pytest.fixture
def metric():
    acc = factories.metric(key="acc", lower_bound=0, upper_bound=1)
    for number in range(60):
        result(f"run-{number:02d}", 100, {acc: number / 100})
    return acc


def ranking_reads(client, path: str, params: dict) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    return sum(CurrentScore._meta.db_table in query["sql"] for query in queries), response


def test_a_later_page_has_its_rows_and_the_total_from_one_ranking_query(client, metric):
    reads, response = ranking_reads(client, "/rank/", {"metric": metric.pk, "page": 2})
    assert reads == 1
    table = response.context["table"]
    assert [row.record.rank for row in table.page.object_list] == list(range(51, 61))
    assert "60 rows" in response.content.decode()
    assert table.paginator.num_pages == 2


def test_a_page_past_the_end_shows_the_last_page(client, metric):
    response = client.get("/rank/", {"metric": metric.pk, "page": 99})
    assert response.status_code == 200
    assert [row.record.rank for row in response.context["table"].page.object_list][0] == 51


def test_the_api_pages_a_ranking_with_one_ranking_query(client, metric):
    reads, response = ranking_reads(client, "/api/v1/rankings/", {"metric": metric.pk, "page": 2, "page_size": 25})
    assert reads == 1
    body = response.json()
    assert body["count"] == 60
    assert [row["rank"] for row in body["results"]] == list(range(26, 51))
    assert client.get("/api/v1/rankings/", {"metric": metric.pk, "page": 4, "page_size": 25}).status_code == 404
