"""The compare page: a panel per metric on its own scale, no best for a metric of unknown direction, and deltas marked
better or worse by the metric's direction (issue 11, defect 9)."""

import re

import pytest

from evaluations.models import Metric
from rankings import charts
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def compared():
    """Two checkpoints on accuracy (higher is better), likelihood_difference (lower) and one of unknown direction."""
    acc = factories.metric(key="acc", benchmark=factories.benchmark(name="ARC"))
    diff = factories.metric(
        key="likelihood_difference", higher_is_better=False, benchmark=factories.benchmark(name="CrowS")
    )
    odd = factories.metric(key="pct_stereotype", benchmark=factories.benchmark(name="CrowS-pct"))
    odd.direction = Metric.Direction.UNKNOWN
    odd.save()
    first = factories.checkpoint(training=factories.training(name="run-a"), step=100)
    second = factories.checkpoint(training=factories.training(name="run-b"), step=200)
    for checkpoint, values in [(first, (0.30, 3.5, 0.6)), (second, (0.25, 3.3, 0.7))]:
        for metric, value in zip((acc, diff, odd), values, strict=True):
            factories.score(metric=metric, value=value, stderr=0.01, checkpoint_obj=checkpoint)
    return {"acc": acc, "diff": diff, "odd": odd, "ids": [first.pk, second.pk]}


def row_of(response, metric) -> list:
    return next(cells for row_metric, cells in response.context["table"] if row_metric == metric)


def test_a_metric_of_unknown_direction_is_not_marked_best(client, compared):
    response = client.get("/compare/", {"checkpoint": compared["ids"]})
    assert [is_best for _, is_best, _ in row_of(response, compared["odd"])] == [False, False]
    assert [is_best for _, is_best, _ in row_of(response, compared["diff"])] == [False, True]
    row = re.search(r"pct_stereotype.*?</tr>", response.text, re.S).group(0)
    assert "(best)" not in row
    assert 'class="num best"' not in row


def test_deltas_are_better_or_worse_by_the_metrics_direction_in_words_and_colour(client, compared):
    response = client.get("/compare/", {"checkpoint": compared["ids"]})
    assert row_of(response, compared["acc"])[1][2] == (pytest.approx(-0.05), "worse")
    assert row_of(response, compared["diff"])[1][2] == (pytest.approx(-0.2), "better")
    assert row_of(response, compared["odd"])[1][2] == (pytest.approx(0.1), "")
    text = re.sub(r"\s+", " ", response.text)
    assert '<span class="delta delta--worse">-0.050 <span class="delta__word">▼ worse</span></span>' in text
    assert '<span class="delta delta--better">-0.200 <span class="delta__word">▲ better</span></span>' in text
    assert '<span class="delta">+0.100</span>' in text


def test_the_chart_gives_each_metric_its_own_panel_and_scale_with_the_legend_above(client, compared):
    figure = client.get("/compare/", {"checkpoint": compared["ids"]}).context["chart"]
    layout = figure["layout"]
    # ARC and CrowS are primary (the first metric of each benchmark); the unknown-direction one is too.
    assert [a["text"].split("<br>") for a in layout["annotations"]] == [
        ["ARC · acc", "higher is better"],
        ["CrowS · likelihood_difference", "lower is better (reversed)"],
        ["CrowS-pct · pct_stereotype", "direction unknown"],
    ]
    assert [layout[axis]["autorange"] for axis in ("yaxis", "yaxis2", "yaxis3")] == [True, "reversed", True]
    assert {trace["yaxis"] for trace in figure["data"]} == {"y", "y2", "y3"}
    assert layout["legend"]["y"] > 1
    assert len({trace["marker"]["color"] for trace in figure["data"] if trace["name"].startswith("run-a")}) == 1
    assert [trace["name"] for trace in figure["data"] if trace["showlegend"]] == ["run-a @ 100", "run-b @ 200"]
    assert figure["narrow"]["xaxis3"]["domain"] == [0.0, 1.0]


def test_panels_carry_the_stderr_as_error_bars():
    metric = factories.metric(key="acc")
    figure = charts.metric_panels(["a", "b"], [metric], {metric.pk: [(0.3, 0.01), (0.5, None)]})
    assert [(t["y"], t["error_y"]["array"], t["error_y"]["visible"]) for t in figure["data"]] == [
        ([0.3], [0.01], True),
        ([0.5], [0], False),
    ]
