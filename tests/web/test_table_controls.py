"""The table's own controls from the query string: which columns (`columns`) and which rows stay pinned (`pin`)."""

import re

import pytest
from django.http import QueryDict

from rankings.forms import MAX_PINS, TableForm
from rankings.methods import Method
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def board():
    acc = factories.metric(key="acc", lower_bound=0, upper_bound=1)
    ppl = factories.metric(key="ppl", higher_is_better=False)
    checkpoints = {}
    for index, name in enumerate(["alpha", "beta", "gamma", "delta"]):
        checkpoint = factories.checkpoint(training=factories.training(name=name))
        factories.score(metric=acc, value=0.2 + index / 10, checkpoint_obj=checkpoint, stderr=0.01)
        factories.score(metric=ppl, value=20 - index, checkpoint_obj=checkpoint)
        checkpoints[name] = checkpoint
    board = Leaderboard.objects.create(name="Board", slug="board", best_only=True, method=Method.MEAN_RANK)
    LeaderboardMetric.objects.create(leaderboard=board, metric=acc)
    LeaderboardMetric.objects.create(leaderboard=board, metric=ppl)
    return {"acc": acc, "ppl": ppl, "checkpoints": checkpoints}


def headers(response) -> list[str]:
    heads = re.findall(r"<th\b[^>]*>(.*?)</th>", response.content.decode(), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", head).split()) for head in heads]


def pinned_rows(response) -> list[tuple[str, str]]:
    """(rank, training) of each pinned row."""
    body = re.search(r'<tbody class="pinned-rows".*?</tbody>', response.content.decode(), re.S)
    if not body:
        return []
    return re.findall(r'<td class="num rank">(\d+)</td>.*?<a href="/trainings/\d+/"[^>]*>([^<]+)</a>', body.group(0))


def test_without_columns_every_column_is_shown(client, board):
    names = headers(client.get("/leaderboards/board/"))
    assert {"Model", "Training", "Step", "Coverage"} <= set(names)
    assert '<span class="stderr">' in client.get("/leaderboards/board/").content.decode()


def test_columns_names_the_optional_columns_shown(client, board):
    acc = board["acc"]
    offered = [f"offered_{acc.pk}", f"offered_{board['ppl'].pk}"]  # as the chooser sends: which metric boxes it had
    response = client.get("/leaderboards/board/", {"columns": ["rank", "step", f"metric_{acc.pk}", *offered]})
    names = headers(response)
    assert "Model" not in names
    assert "Coverage" not in names
    assert "Step" in names
    assert [name for name in names if "·" in name] == [f"{acc.title} ↑"]
    assert "Rank" in names  # rank, name and score are always shown
    assert "Training" in names
    assert '<span class="stderr">' not in response.content.decode()  # stderr was not named


def test_a_hidden_column_is_carried_on_by_the_ranking_form(client, board):
    html = client.get("/leaderboards/board/", {"columns": ["rank", "step"]}).content.decode()
    form = re.search(r'<div id="ranking-options".*?</div>', html, re.S).group(0)
    assert '<input type="hidden" name="columns" value="step">' in form
    default = client.get("/leaderboards/board/").content.decode()
    options = re.search(r'<div id="ranking-options".*?</div>', default, re.S).group(0)
    assert 'name="columns"' not in options  # the default adds nothing to the URL


@pytest.mark.parametrize("value", ["nonsense", "metric_x", "' OR 1=1 --", "\x00"])
def test_an_unknown_column_is_a_note_naming_the_field_not_an_error_page(client, board, value):
    response = client.get("/leaderboards/board/", {"columns": value})
    assert response.status_code == 200
    assert "Ignored: Columns:" in response.content.decode()
    assert "Model" in headers(response)  # the bad choice is ignored: every column shows


def test_a_metric_column_of_a_deselected_metric_is_ignored(client, board):
    response = client.get("/leaderboards/board/", {"columns": ["rank", "model", "metric_999999"]})
    assert response.status_code == 200
    assert "Ignored" not in response.content.decode()


def test_pinned_rows_are_shown_first_with_their_ranks_in_any_order(client, board):
    alpha, gamma = board["checkpoints"]["alpha"], board["checkpoints"]["gamma"]
    for sort in ["", "-step", "training", f"metric_{board['ppl'].pk}"]:
        response = client.get("/leaderboards/board/", {"pin": [alpha.pk, gamma.pk], "sort": sort})
        assert pinned_rows(response) == [("2", "gamma"), ("4", "alpha")], sort


def test_pins_follow_the_filters_and_say_which_are_not_rows(client, board):
    alpha, gamma = board["checkpoints"]["alpha"], board["checkpoints"]["gamma"]
    response = client.get("/leaderboards/board/", {"pin": [alpha.pk, gamma.pk, 999999], "q": "gamma"})
    assert pinned_rows(response) == [("1", "gamma")]  # filtered: ranks restart within the selection
    text = response.content.decode()
    assert f"Pinned checkpoints {alpha.pk}, 999999 are not a row of this ranking" in text


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", str(10**30)])
def test_a_pin_that_is_not_an_id_is_a_note_naming_the_field(client, board, value):
    response = client.get("/leaderboards/board/", {"pin": value})
    assert response.status_code == 200
    assert "Ignored: Pinned rows: Give checkpoint ids" in response.content.decode()
    assert pinned_rows(response) == []


def test_pins_are_capped():
    form = TableForm(QueryDict("&".join(f"pin={n}" for n in range(1, MAX_PINS + 2))))
    assert form.pins() == []
    assert form.problem() == f"Pinned rows: Pin at most {MAX_PINS} rows."
    form = TableForm(QueryDict("pin=3&pin=3&pin=4"))
    assert form.pins() == [3, 4]


def test_the_page_with_pins_and_columns_runs_a_bounded_number_of_queries(client, board, django_assert_max_num_queries):
    alpha = board["checkpoints"]["alpha"]
    client.get("/leaderboards/board/")  # warms the cached picker options
    with django_assert_max_num_queries(14) as plain:
        client.get("/leaderboards/board/", {"best_only": "0"})
    with django_assert_max_num_queries(len(plain) + 1):  # the pinned rows: one query more
        client.get("/leaderboards/board/", {"best_only": "0", "pin": alpha.pk, "columns": ["rank", "step"]})


def test_a_metric_chosen_after_hiding_columns_gets_its_column(client, board):
    """The ranking form carries the choice on; a metric the chooser never offered is shown, not hidden with the rest."""
    acc, ppl = board["acc"], board["ppl"]
    html = client.get(
        "/rank/", {"metric": acc.pk, "method": "mean_rank", "columns": ["rank", "step", f"offered_{acc.pk}"]}
    ).content.decode()
    options = re.search(r'<div id="ranking-options".*?</div>', html, re.S).group(0)
    carried = re.findall(r'<input type="hidden" name="columns" value="([^"]+)">', options)
    assert carried == ["rank", "step", f"offered_{acc.pk}"]

    response = client.get("/rank/", {"metric": [acc.pk, ppl.pk], "method": "mean_rank", "columns": carried})
    names = headers(response)
    assert f"{ppl.title} ↓" in names  # the new metric's column
    assert not any(acc.title in name for name in names)  # still hidden
    assert "Step" in names
    assert "Model" not in names
