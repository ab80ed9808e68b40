"""examples/worker.py against a live server: it claims a job, works (or pretends to), and posts the scores."""

import importlib.util
import stat
import sys

import pytest
from django.conf import settings

from evaluations.models import CurrentScore, Evaluation
from tests import factories
from tests.api.conftest import RUN_JOBS

pytestmark = pytest.mark.django_db(transaction=True)


def load_worker():
    spec = importlib.util.spec_from_file_location("example_worker", settings.BASE_DIR / "examples" / "worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def job():
    benchmark = factories.benchmark(slug="arc_easy", num_fewshot=5)
    factories.metric(benchmark=benchmark, key="acc", lower_bound=0, upper_bound=1, baseline=0.25)
    checkpoint = factories.checkpoint(training=factories.training(name="pythia-160m"), step=1000)
    return factories.evaluation(checkpoint_obj=checkpoint, benchmark_obj=benchmark, status=Evaluation.Status.PENDING)


@pytest.fixture
def key() -> str:
    return factories.api_token(owner=factories.user(perms=(RUN_JOBS,)))[1]


def test_the_example_worker_pretends_and_completes_a_job(live_server, job, key, capsys):
    worker = load_worker()
    assert worker.main(["--url", live_server.url, "--token", key, "--once", "--pretend-seconds", "0"]) == 0
    job.refresh_from_db()
    assert (job.status, job.harness) == ("succeeded", "pretend")
    [score] = job.scores.all()
    assert 0.25 <= score.value <= 1
    assert CurrentScore.objects.get(evaluation=job).value == score.value
    assert f"job {job.pk} done" in capsys.readouterr().out


def test_the_example_worker_runs_lm_eval_and_posts_its_results(live_server, job, key, tmp_path):
    fake = tmp_path / "lm_eval"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib, sys\n"
        "args = sys.argv[1:]\n"
        "out = pathlib.Path(args[args.index('--output_path') + 1]) / 'model'\n"
        "out.mkdir(parents=True)\n"
        "row = {'alias': 'arc_easy', 'acc,none': 0.61, 'acc_stderr,none': 0.02, 'acc_norm,none': 0.6,\n"
        "       'acc_norm_stderr,none': 'N/A'}\n"
        "doc = {'results': {'arc_easy': row}, 'lm_eval_version': '0.4.9', 'argv': args}\n"
        "(out / 'results_2026.json').write_text(json.dumps(doc))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    job.benchmark.metrics.create(key="acc_norm")
    worker = load_worker()
    argv = ["--url", live_server.url, "--token", key, "--once", "--run-lm-eval", "--lm-eval", str(fake)]
    assert worker.main(argv) == 0
    job.refresh_from_db()
    assert (job.status, job.harness, job.harness_version) == ("succeeded", "lm-evaluation-harness", "0.4.9")
    assert job.config["model_args"] == "pretrained=pythia-160m,revision=step1000"
    assert sorted(job.scores.values_list("metric__key", "value", "stderr")) == [
        ("acc", 0.61, 0.02),
        ("acc_norm", 0.6, None),
    ]


def test_the_example_worker_reports_a_failed_run(live_server, job, key, tmp_path):
    fake = tmp_path / "lm_eval"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(3)\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    worker = load_worker()
    argv = ["--url", live_server.url, "--token", key, "--once", "--run-lm-eval", "--lm-eval", str(fake)]
    assert worker.main(argv) == 0
    job.refresh_from_db()
    assert job.status == "failed"
    assert "returned non-zero exit status 3" in job.error


def test_the_example_worker_exits_when_the_queue_is_empty(live_server, key):
    worker = load_worker()
    assert worker.main(["--url", live_server.url, "--token", key, "--once"]) == 0
