"""Numbers read alike everywhere: enough decimals to tell ranks apart, the same on the home card and the table."""

import re

import pytest
from django.urls import reverse

from evaluations.formatting import decimals_for, format_number
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories

pytestmark = pytest.mark.django_db


def test_decimals_grow_until_distinct_values_read_differently():
    assert decimals_for([0.601, 0.604, 0.6], 2) == 3
    assert decimals_for([0.61, 0.62], 2) == 2
    assert decimals_for([0.6, 0.6, None], 2) == 2  # equal values may read alike
    assert decimals_for([1.0, 1.0 + 1e-12], 2) == 6  # within the cap


def test_large_values_carry_thousands_separators():
    assert format_number(3594272.0, 0) == "3,594,272"
    assert format_number(-1234.5, 1) == "-1,234.5"
    assert format_number(None, 2) == ""


@pytest.fixture
def board():
    """A mean whose top scores differ only at the 3rd decimal, of a metric that shows 2."""
    acc = factories.metric(key="acc", lower_bound=0, upper_bound=1, decimals=2)
    for training, value in [("a", 0.6012), ("b", 0.6041), ("c", 0.5987), ("d", 0.5521)]:
        factories.score(metric=acc, value=value, training=training)
    leaderboard = Leaderboard.objects.create(name="Main", slug="main", method="mean", is_public=True)
    LeaderboardMetric.objects.create(leaderboard=leaderboard, metric=acc)
    return leaderboard


def scores_in_table(html: str) -> list[str]:
    return re.findall(r'<td class="num score">([^<]*)</td>', html)


def test_a_table_whose_values_differ_at_the_third_decimal_shows_three(client, board):
    html = client.get("/leaderboards/main/").content.decode()
    assert scores_in_table(html) == ["0.604", "0.601", "0.599", "0.552"]


def test_the_home_card_shows_the_digits_of_the_table(client, board):
    html = client.get("/").content.decode()
    card = re.findall(r'<span class="num-inline muted">([^<]*)</span>', html)
    assert card == ["0.604", "0.601", "0.599", "0.552"]
    assert card == scores_in_table(client.get("/leaderboards/main/").content.decode())


def test_metric_columns_and_stderr_take_the_column_digits(client, board):
    metric = board.entries.get().metric
    html = client.get("/rank/", {"metric": metric.pk}).content.decode()
    assert ">0.604<" in html or ">0.604 " in html
    assert ">0.60<" not in html


def test_compare_shows_the_digits_that_tell_the_checkpoints_apart(client, board):
    metric = board.entries.get().metric
    ids = [s.evaluation.checkpoint_id for s in metric.scores.filter(value__in=[0.6012, 0.6041])]
    html = client.get(reverse("rankings:compare"), {"checkpoint": ids}).content.decode()
    assert '<span class="value">0.601</span>' in html
    assert '<span class="value">0.604</span>' in html
