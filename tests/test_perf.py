"""The benchmark suite: its synthetic data has the shapes it claims, and `bench` and `loadtest` run end to end."""

import os
import subprocess
import sys
from collections import Counter

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count

from evaluations.current import current_score_drift
from evaluations.models import Checkpoint, CurrentScore, Evaluation, Metric, Score, Tag, Training
from perf import synthetic
from tests import factories

pytestmark = pytest.mark.django_db


def test_synthetic_data_has_the_shapes_of_real_results():
    Tag.objects.create(name="dense")  # rows already there keep their ids; new ones follow them
    scale = synthetic.SCALES["S"]
    synthetic.generate(scale)
    assert Tag.objects.filter(name="dense").count() == 1
    assert Training.objects.count() == 50
    assert Checkpoint.objects.count() == 50 * 20
    assert current_score_drift() == {"missing": 0, "extra": 0, "different": 0}
    statuses = Counter(Evaluation.objects.values_list("status", flat=True))
    assert 0.005 < statuses[Evaluation.Status.FAILED] / sum(statuses.values()) < 0.02
    assert not Score.objects.filter(evaluation__status=Evaluation.Status.FAILED).exists()
    never = 50 * 20 * 10 - Evaluation.objects.values("checkpoint", "benchmark").distinct().count()
    assert never > 0, "some checkpoints were never evaluated on some benchmarks"
    reruns = Evaluation.objects.values("checkpoint", "benchmark").annotate(n=Count("pk")).filter(n__gt=1)
    assert reruns.exists(), "some evaluations were run again; the latest counts"
    assert Metric.objects.filter(direction=Metric.Direction.LOWER).count() == 10
    acc = Metric.objects.get(benchmark__slug="synthetic_task_01", key="acc")
    values = list(CurrentScore.objects.filter(metric=acc).values_list("value", flat=True))
    assert len(set(values)) < len(values), "rounding makes ties"
    assert all(0 <= value <= 1 for value in values)
    curves = {}
    for training, step, value in CurrentScore.objects.filter(metric=acc).values_list("training", "step", "value"):
        curves.setdefault(training, {})[step] = value
    rising = [c for c in curves.values() if c.get(20000, 0) > c.get(1000, 1)]
    falling_late = [c for c in curves.values() if max(c.values()) - c.get(max(c), 0) > 0.03]
    assert len(rising) > 40
    assert falling_late, "some trainings get worse late"


@pytest.mark.slow
def test_bench_measures_every_scenario(capsys):
    call_command("bench", scale="XS", repeat=1, warmup=0, batches=1, files=1, no_report=True)
    output = capsys.readouterr().out
    for name in ("saved leaderboard (cached)", "ad hoc: 5-metric normalised mean", "training page", "compare"):
        assert name in output
    assert "API, batches of 500 results | 500 |" in output
    assert not Training.objects.filter(model__name="synthetic-ingest").exists(), "ingest probes are removed"


def test_bench_refuses_a_database_with_other_data():
    factories.training(name="real-work")
    with pytest.raises(CommandError, match="database of its own"):
        call_command("bench", scale="XS", repeat=1, warmup=0, batches=1, files=1, no_report=True)
    assert Training.objects.get().name == "real-work"


@pytest.mark.slow
@pytest.mark.skipif(not settings.BASE_DIR.joinpath("leaderboard_site/gunicorn.conf.py").exists(), reason="no gunicorn")
def test_load_test_at_a_small_scale_has_no_errors_and_loses_nothing(tmp_path):
    """`make loadtest` at scale XS for a few seconds: the CI version of the M-scale run in docs/performance.md."""
    if connection.vendor == "postgresql":
        url = "postgres://postgres@127.0.0.1:5432/leaderboard_loadtest_ci"
        admin = ["-h", "127.0.0.1", "-U", "postgres"]
        subprocess.run(["dropdb", *admin, "--if-exists", "leaderboard_loadtest_ci"], check=True)
        subprocess.run(["createdb", *admin, "leaderboard_loadtest_ci"], check=True)
    else:
        url = f"sqlite:///{tmp_path / 'load.sqlite3'}"
    env = dict(os.environ, DATABASE_URL=url)
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    for command in (
        ["migrate", "--no-input", "-v", "0"],
        ["bench", "--scale", "XS", "--repeat", "1", "--warmup", "0", "--batches", "1", "--files", "1", "--no-report"],
    ):
        subprocess.run([*manage, *command], env=env, check=True, capture_output=True, timeout=300)
    run = subprocess.run(
        [*manage, "loadtest", "--seconds", "5", "--concurrency", "8", "--workers", "2", "--no-report"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "No server errors, no lost or duplicated results." in run.stdout
    assert '"results_stored"' in run.stdout
