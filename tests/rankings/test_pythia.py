"""Rankings on the real Pythia results (the demo data), with answers a reader can check in the published files."""

import json

import pytest

from evaluations.models import Metric
from rankings.methods import Method, RankingSpec
from rankings.models import RankedCheckpoint
from tests import datasets

DATASET = datasets.pythia()


def metric(task: str, key: str) -> Metric:
    return Metric.objects.select_related("benchmark").get(benchmark__slug=task, key=key)


def best_in_the_files(task: str, key: str, lower_is_better: bool) -> dict[str, tuple[int, float]]:
    """Straight from the published JSON: each training's best (step, value); a tie goes to the earlier step."""
    best: dict[str, tuple[int, float]] = {}
    for path in DATASET.glob("*/zero-shot/*.json"):
        document = json.loads(path.read_text())
        arguments = dict(part.split("=", 1) for part in document["config"]["model_args"].split(","))
        training = arguments["pretrained"].rsplit("/", 1)[-1]
        step = int(arguments["revision"].removeprefix("step"))
        value = document["results"][task][key]
        better = (value, step) if lower_is_better else (-value, step)
        if training not in best or better < best[training][0]:
            best[training] = (better, (step, value))
    return {training: step_value for training, (_, step_value) in best.items()}


@pytest.mark.django_db
def test_the_best_checkpoint_of_each_training_on_lambada_perplexity(demo_data, django_assert_num_queries):
    ppl = metric("lambada_openai", "ppl")
    assert ppl.direction == Metric.Direction.LOWER
    with django_assert_num_queries(1):
        rows = list(RankedCheckpoint.objects.ranked(RankingSpec.of(ppl, best_only=True)).select_related("training"))
    expected = best_in_the_files("lambada_openai", "ppl", lower_is_better=True)
    assert {row.training.name: (row.step, row.score) for row in rows} == expected
    # Lower is better: the largest model wins, and its best is not its last checkpoint.
    assert (rows[0].training.name, rows[0].step, round(rows[0].score, 2), rows[0].rank) == (
        "pythia-v1.1-12b-deduped",
        123000,
        3.77,
        1,
    )
    assert [row.rank for row in rows] == list(range(1, 17))
    assert {row.checkpoints_ranked for row in rows} == {27}


@pytest.mark.django_db
def test_bigger_pythia_models_reason_better_on_the_normalised_mean(demo_data):
    metrics = [metric(task, "acc") for task in ("arc_easy", "arc_challenge", "piqa", "winogrande", "sciq")]
    spec = RankingSpec.of(metrics, method=Method.NORMALISED_MEAN, best_only=True)
    rows = list(RankedCheckpoint.objects.ranked(spec).select_related("training"))
    names = [row.training.name for row in rows]
    assert len(rows) == 16
    assert names[0].startswith("pythia-v1.1-12b")
    assert names[-1].startswith("pythia-v1.1-70m")
    assert all(row.coverage == 5 for row in rows)
    assert 0 <= rows[-1].score < rows[0].score <= 100
