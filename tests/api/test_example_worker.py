"""examples/worker.py against a live server: it claims a job, works (or pretends to), and posts the scores."""

import http.client
import importlib.util
import io
import stat
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from evaluations.models import CurrentScore, Evaluation, Score
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
    assert (job.config["model"], job.config["revision"], job.config["step"]) == ("pythia-160m", "step1000", 1000)
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


def fake_lm_eval(tmp_path):
    """An lm_eval that leaves a mark when it runs."""
    fake = tmp_path / "lm_eval"
    fake.write_text(f"#!{sys.executable}\nimport pathlib\npathlib.Path({str(tmp_path / 'ran')!r}).touch()\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


@pytest.mark.parametrize("name", ["x,trust_remote_code=True", "x=y", "--help", "my model", "tab\tname", "bell\x07"])
def test_the_example_worker_refuses_a_training_name_that_cannot_be_a_model_path(live_server, key, tmp_path, name):
    benchmark = factories.benchmark(slug="arc_easy")
    checkpoint = factories.checkpoint(training=factories.training(name=name), step=1000)
    job = factories.evaluation(checkpoint_obj=checkpoint, benchmark_obj=benchmark, status=Evaluation.Status.PENDING)
    worker = load_worker()
    argv = [
        "--url",
        live_server.url,
        "--token",
        key,
        "--once",
        "--run-lm-eval",
        "--lm-eval",
        str(fake_lm_eval(tmp_path)),
    ]
    assert worker.main(argv) == 0
    job.refresh_from_db()
    assert job.status == "failed"
    assert f"The checkpoint's training_name {name!r} cannot be a model path for lm_eval" in job.error
    assert not (tmp_path / "ran").exists()


def test_the_example_worker_refuses_a_storage_uri_that_would_inject_arguments(live_server, job, key, tmp_path):
    job.checkpoint.storage_uri = "s3://bucket/ckpt,trust_remote_code=True"
    job.checkpoint.save()
    worker = load_worker()
    argv = [
        "--url",
        live_server.url,
        "--token",
        key,
        "--once",
        "--run-lm-eval",
        "--lm-eval",
        str(fake_lm_eval(tmp_path)),
    ]
    assert worker.main(argv) == 0
    job.refresh_from_db()
    assert job.status == "failed"
    assert "storage_uri" in job.error
    assert not (tmp_path / "ran").exists()


def http_error(request, status: int, retry_after: str | None = None) -> urllib.error.HTTPError:
    headers = http.client.HTTPMessage()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = io.BytesIO(b'{"detail": "The database is unavailable."}')
    return urllib.error.HTTPError(request.full_url, status, "unavailable", headers, body)


def failing_completions(monkeypatch, failures: list) -> list[str]:
    """Make the worker's first completions fail in the given ways; returns the paths of every request it sends."""
    real, sent = urllib.request.urlopen, []

    def urlopen(request, timeout):
        sent.append(request.full_url.split("/api/v1/")[1])
        if request.full_url.endswith("/complete/") and failures:
            failures.pop(0)(real, request, timeout)
        return real(request, timeout=timeout)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return sent


def refused(real, request, timeout):
    raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))


def timed_out(real, request, timeout):
    raise TimeoutError("timed out")


def answered_but_lost(real, request, timeout):
    # The server records the completion; the answer never reaches the worker.
    real(request, timeout=timeout).close()
    raise ConnectionResetError(104, "Connection reset by peer")


def status(code: int, retry_after: str | None = None):
    def fail(real, request, timeout):
        raise http_error(request, code, retry_after)

    return fail


def test_the_example_worker_retries_its_completion_until_it_arrives_once(live_server, job, key, monkeypatch, capsys):
    worker = load_worker()
    monkeypatch.setattr(worker, "RETRY_BASE_SECONDS", 0.01)
    failures = [refused, status(503), timed_out, status(502), answered_but_lost, status(504), status(429, "0.2")]
    sent = failing_completions(monkeypatch, failures)
    assert worker.main(["--url", live_server.url, "--token", key, "--once", "--pretend-seconds", "0"]) == 0
    assert sent.count(f"evaluations/{job.pk}/complete/") == 8
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert Score.objects.filter(evaluation__checkpoint=job.checkpoint).count() == 1
    assert Evaluation.objects.filter(checkpoint=job.checkpoint).count() == 1
    output = capsys.readouterr()
    assert f"job {job.pk} done" in output.out
    assert "retrying in 0.2s" in output.err


def test_the_example_worker_does_not_resend_a_refused_completion(live_server, job, key, monkeypatch):
    worker = load_worker()
    monkeypatch.setattr(worker, "RETRY_BASE_SECONDS", 0.01)
    sent = failing_completions(monkeypatch, [status(503), status(400), status(503)])
    assert worker.main(["--url", live_server.url, "--token", key, "--once", "--pretend-seconds", "0"]) == 1
    assert sent.count(f"evaluations/{job.pk}/complete/") == 2
    job.refresh_from_db()
    assert job.status == "running"


def test_the_example_worker_stops_retrying_when_its_lease_ends(monkeypatch):
    worker = load_worker()
    monkeypatch.setattr(worker, "RETRY_BASE_SECONDS", 0.01)
    tries = []

    def unavailable(request, timeout):
        tries.append(time.monotonic())
        raise http_error(request, 503)

    monkeypatch.setattr(urllib.request, "urlopen", unavailable)
    api = worker.Api("http://leaderboard.invalid", "lbt_x")
    deadline = time.monotonic() + 0.5
    with pytest.raises(worker.ApiError, match="HTTP 503"):
        api.post_until("evaluations/1/complete/", {}, deadline)
    assert len(tries) > 2
    assert tries[-1] < deadline


def test_the_example_worker_heartbeats_within_a_short_lease_and_keeps_it_short(live_server, job, key, monkeypatch):
    worker = load_worker()
    post, renewals = worker.Api.post, []

    def recording(api, path, body):
        answer = post(api, path, body)
        if path.endswith("/heartbeat/"):
            renewals.append(parse_datetime(answer[1]["lease_expires_at"]) - timezone.now())
        return answer

    monkeypatch.setattr(worker.Api, "post", recording)
    argv = ["--url", live_server.url, "--token", key, "--once", "--lease-seconds", "30", "--pretend-seconds", "11"]
    assert worker.main(argv) == 0
    [remaining] = renewals
    assert timedelta(seconds=25) < remaining <= timedelta(seconds=30)
