"""The model page with results: each training's best checkpoint on the primary metrics, by the ranking engine, and
a chart of the trainings side by side (issue 11, "model page with results")."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def model():
    """pythia-70m with two trainings on a primary accuracy and a primary perplexity (lower is better)."""
    owner = factories.model(name="pythia-70m")
    acc = factories.metric(key="acc", benchmark=factories.benchmark(name="ARC"))
    ppl = factories.metric(key="ppl", higher_is_better=False, benchmark=factories.benchmark(name="Wiki"))
    runs = {
        "main": [(0, 0.20, 900.0), (1000, 0.30, 40.0), (143000, 0.32, 20.0)],
        "deduped": [(0, 0.21, 800.0), (1000, 0.35, 30.0), (143000, 0.40, 25.0)],
    }
    for name, points in runs.items():
        training = factories.training(name=name, model=owner)
        for step, accuracy, perplexity in points:
            checkpoint = factories.checkpoint(training=training, step=step)
            factories.score(metric=acc, value=accuracy, checkpoint_obj=checkpoint)
            factories.score(metric=ppl, value=perplexity, checkpoint_obj=checkpoint)
    factories.training(name="other-model-run", model_name="pythia-1b")
    return owner


def test_each_training_shows_its_best_checkpoint_on_the_primary_metrics_ranked(client, model):
    response = client.get(model.get_absolute_url())
    assert response.status_code == 200
    rows = [(row.rank, row.training.name, row.step, row.checkpoints_ranked) for row in response.context["best_rows"]]
    # Normalised mean of acc and ppl over the model's checkpoints: each training's last step is its best.
    assert rows == [(1, "deduped", 143000, 3), (2, "main", 143000, 3)]
    text = re.sub(r"\s+", " ", response.text)
    assert "The best checkpoint of each training on the 2 primary metrics" in text
    assert 'step 143,000</a> <span class="note">best of 3</span>' in text
    assert "Compare these best checkpoints" in text


def test_the_chart_draws_every_training_side_by_side_one_colour_each(client, model):
    figure = client.get(model.get_absolute_url()).context["chart"]
    lines = [trace for trace in figure["data"] if trace["mode"] != "markers"]
    assert [(t["meta"], t["yaxis"]) for t in lines] == [
        ("deduped", "y"),
        ("main", "y"),
        ("deduped", "y2"),
        ("main", "y2"),
    ]
    colours = {t["meta"]: t["line"]["color"] for t in lines}
    assert len(set(colours.values())) == 2
    assert all(t["line"]["color"] == colours[t["meta"]] for t in lines)
    assert figure["layout"]["xaxis2"]["type"] == "log"  # steps 0 to 143,000


def test_a_model_without_results_shows_no_results_section(client):
    owner = factories.training(name="empty", model_name="new-model").model
    response = client.get(owner.get_absolute_url())
    assert response.status_code == 200
    assert "best_rows" not in response.context
    assert "Results" not in response.text


def test_the_results_cost_the_same_queries_for_2_and_10_trainings(client, model):
    acc = model.trainings.first().checkpoints.first().evaluations.first().scores.first().metric
    few = _queries(client, model.get_absolute_url())
    for index in range(8):
        checkpoint = factories.checkpoint(training=factories.training(name=f"extra-{index}", model=model), step=10)
        factories.score(metric=acc, value=0.3, checkpoint_obj=checkpoint)
    assert _queries(client, model.get_absolute_url()) == few
    assert len(client.get(model.get_absolute_url()).context["best_rows"]) == 10


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)
