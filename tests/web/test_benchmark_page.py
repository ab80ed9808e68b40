"""A benchmark's page ranks every checkpoint on its primary metric, fifty to a page."""

import re
from html import unescape

import pytest

from tests import factories

pytestmark = pytest.mark.django_db

CHECKPOINTS = 120


def _text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def _ranked(response) -> list[tuple[int, str]]:
    """(rank, training) of each row of the ranking table, in order."""
    rows = re.findall(
        r'<td class="num rank">(\d+)</td>\s*<th scope="row" class="name"><a [^>]*>([^<]*)</a>',
        response.content.decode(),
    )
    return [(int(rank), training) for rank, training in rows]


@pytest.fixture
def benchmark():
    acc = factories.metric(key="acc")
    for n in range(1, CHECKPOINTS + 1):  # run-120 is the best, run-1 the worst
        factories.score(metric=acc, value=n / 1000, training=f"run-{n:03}")
    return acc.benchmark


def test_the_second_page_shows_ranks_51_to_100_and_says_of_how_many(client, benchmark, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = client.get(benchmark.get_absolute_url(), {"page": 2})
    assert _ranked(response) == [(rank, f"run-{CHECKPOINTS + 1 - rank:03}") for rank in range(51, 101)]
    text = _text(response)
    assert "51–100 of 120 checkpoints." in text
    assert "Page 2 of 3" in text
    pager = re.findall(r'<a href="([^"]+)"[^>]*>(First|Previous|Next|Last)</a>', response.content.decode())
    links = {label: href for href, label in pager}
    assert links == {
        "First": "?page=1#ranking-heading",
        "Previous": "?page=1#ranking-heading",
        "Next": "?page=3#ranking-heading",
        "Last": "?page=3#ranking-heading",
    }


def test_the_first_page_has_no_way_back_and_the_last_holds_the_rest(client, benchmark):
    first = client.get(benchmark.get_absolute_url())
    assert [rank for rank, _ in _ranked(first)] == list(range(1, 51))
    assert "1–50 of 120 checkpoints." in _text(first)
    assert "Previous" not in _text(first)
    last = client.get(benchmark.get_absolute_url(), {"page": 3})
    assert [rank for rank, _ in _ranked(last)] == list(range(101, 121))
    assert "Next" not in _text(last)


@pytest.mark.parametrize(("page", "first_rank"), [("abc", 1), ("0", 101), ("99999", 101)])
def test_a_page_number_out_of_range_shows_the_nearest_page(client, benchmark, page, first_rank):
    response = client.get(benchmark.get_absolute_url(), {"page": page})
    assert response.status_code == 200
    assert _ranked(response)[0][0] == first_rank


def test_a_short_ranking_has_no_pager(client):
    acc = factories.metric(key="acc")
    for n in range(3):
        factories.score(metric=acc, value=n / 10, training=f"run-{n}")
    response = client.get(acc.benchmark.get_absolute_url())
    assert "3 checkpoints." in _text(response)
    assert 'aria-label="Pages of the ranking"' not in response.content.decode()
