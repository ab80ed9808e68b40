"""A writer cannot store a value that breaks a ranking, and no ranking URL can make the database overflow.

PostgreSQL raises "value out of range" when double arithmetic overflows or underflows; SQLite gives inf or 0. The
limits (evaluations.models.SCORE_LARGEST and SCORE_SMALLEST, rankings.methods.MAX_WEIGHT) keep every ranking within
range: these tests store values at the limits and rank them by every method on both databases.
"""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from evaluations.models import SCORE_LARGEST, SCORE_SMALLEST, Score
from evaluations.results import ScoreValue, record_result
from rankings.methods import Method
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories
from tests.api.conftest import WRITE, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_writer():
    return client_for(factories.user(username="writer", perms=(WRITE,)))


@pytest.fixture
def extremes():
    """Two unbounded metrics with values at the limits, in both directions, on three trainings."""
    up = factories.metric(key="loglik")
    down = factories.metric(key="ppl", higher_is_better=False)
    values = [(SCORE_LARGEST, -SCORE_LARGEST), (-SCORE_LARGEST, SCORE_SMALLEST), (SCORE_SMALLEST, SCORE_LARGEST)]
    for name, (a, b) in zip(("big", "small", "tiny"), values, strict=True):
        checkpoint = factories.checkpoint(training=factories.training(name=name))
        record_result(checkpoint, up.benchmark, {up: ScoreValue(a, SCORE_LARGEST)}, source="api")
        record_result(checkpoint, down.benchmark, {down: ScoreValue(b, SCORE_SMALLEST)}, source="api")
    board = Leaderboard.objects.create(name="Extreme", slug="extreme", method=Method.NORMALISED_MEAN)
    LeaderboardMetric.objects.create(leaderboard=board, metric=up, weight=1000)
    LeaderboardMetric.objects.create(leaderboard=board, metric=down, weight=0.001)
    return up, down, board


@pytest.mark.parametrize("method", [m.value for m in Method])
def test_every_method_ranks_values_at_the_limits(client, extremes, method):
    up, down, _ = extremes
    metrics = [up.pk] if method == Method.METRIC else [up.pk, down.pk]
    params = {"metric": metrics, "method": method, f"weight_{up.pk}": "1000", f"weight_{down.pk}": "0.001"}

    page = client.get(reverse("rankings:ranking"), params)
    api = client.get(reverse("api:rankings"), params)
    csv = client.get(reverse("rankings:ranking"), params | {"_export": "csv"})

    assert page.status_code == 200
    assert api.status_code in (200, 400), api.content  # the plain mean refuses metrics of two directions
    # The export answers as the API does: a ranking the rules refuse is a 400 naming why, not an empty file.
    assert csv.status_code == api.status_code
    if api.status_code == 200:
        assert len(api.json()["results"]) == 3


def test_pages_stay_up_with_values_at_the_limits(client, extremes):
    *_, board = extremes
    for url in ["/", board.get_absolute_url(), f"/api/v1/leaderboards/{board.slug}/rows/"]:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("value", [1.7e308, -1.7e308, 1e16, 5e-324, -1e-101])
def test_a_value_out_of_the_rankable_range_is_refused_on_every_write_path(api_writer, value):
    metric = factories.metric(benchmark=factories.benchmark(slug="wild"), key="loglik")
    body = {
        "model": "m",
        "training": "t",
        "step": 1,
        "benchmark": {"slug": "wild"},
        "metrics": {"loglik": value},
    }

    response = api_writer.post("/api/v1/results/", body, format="json")

    assert response.status_code == 400
    assert "loglik" in response.content.decode()
    with pytest.raises(ValidationError, match="loglik"):
        record_result(factories.checkpoint(), metric.benchmark, {metric: ScoreValue(value)}, source="api")
    assert not Score.objects.exists()


def test_a_value_outside_the_metrics_bounds_is_refused_naming_the_metric(api_writer):
    metric = factories.metric(benchmark=factories.benchmark(slug="arc"), key="acc", lower_bound=0, upper_bound=1)
    body = {"model": "m", "training": "t", "step": 1, "benchmark": {"slug": "arc"}, "metrics": {"acc": 1.7}}

    response = api_writer.post("/api/v1/results/", body, format="json")

    assert response.status_code == 400
    assert "acc: 1.7 is above the metric's upper bound 1.0" in response.content.decode()
    with pytest.raises(ValidationError, match="lower bound"):
        record_result(factories.checkpoint(), metric.benchmark, {metric: ScoreValue(-0.1)}, source="api")
    assert not Score.objects.exists()


@pytest.mark.parametrize("weight", ["1e308", "5e-324", "0", "-1", "1001", "0.0001", "nan", "inf"])
def test_a_weight_out_of_range_is_a_clear_error_on_the_page_and_the_api(client, extremes, weight):
    up, down, _ = extremes
    params = {"metric": [up.pk, down.pk], "method": "normalised_mean", f"weight_{up.pk}": weight}

    page = client.get(reverse("rankings:ranking"), params)
    api = client.get(reverse("api:rankings"), params)

    assert page.status_code == 200
    assert "must be a number from 0.001 to 1000" in page.content.decode()
    assert api.status_code == 400
    assert f"weight_{up.pk}" in api.content.decode()
