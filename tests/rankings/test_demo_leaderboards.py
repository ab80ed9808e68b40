import pytest
from django.core.management import call_command

from rankings.models import Leaderboard
from tests import factories

pytestmark = pytest.mark.django_db


def test_demo_leaderboards_are_created_once_over_the_benchmarks_that_exist(capsys):
    arc = factories.metric(key="acc", benchmark=factories.benchmark(slug="arc_easy"))
    factories.metric(key="ppl", higher_is_better=False, benchmark=factories.benchmark(slug="lambada_openai"))
    factories.score(metric=arc, value=0.5)
    call_command("create_demo_leaderboards")
    boards = {board.slug: [entry.metric.key for entry in board.entries.all()] for board in Leaderboard.objects.all()}
    assert boards == {"zero-shot": ["acc"], "lambada-perplexity": ["ppl"], "win-rate": ["acc"]}
    Leaderboard.objects.filter(slug="win-rate").delete()
    call_command("create_demo_leaderboards")
    assert Leaderboard.objects.count() == 2
    assert "already exist" in capsys.readouterr().out
