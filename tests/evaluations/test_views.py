import re
from datetime import UTC, datetime

import pytest
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.cookie import CookieStorage
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evaluations.models import Benchmark, Evaluation, Metric, Tag
from evaluations.results import ScoreValue, record_result
from tests import factories

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def _text(response) -> str:
    """The page's visible text with whitespace collapsed, for assertions about what a reader sees."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _record(checkpoint, metric: Metric, value: float, *, stderr: float | None = None, finished: datetime | None = None):
    return record_result(
        checkpoint, metric.benchmark, {metric: ScoreValue(value, stderr)}, source="import", finished_at=finished
    ).evaluation


def _add_models(count: int) -> None:
    """`count` models, each with a tagged training, a checkpoint and a result on its own benchmark."""
    for _ in range(count):
        metric = factories.metric(benchmark=factories.benchmark(category="reasoning"))
        checkpoint = factories.checkpoint(step=1000)
        checkpoint.training.model.tags.add(Tag.objects.get_or_create(name="deduped")[0])
        factories.score(metric=metric, value=0.5, checkpoint_obj=checkpoint)


def _position(text: str, needle: str) -> int:
    assert needle in text, f"{needle!r} not on the page"
    return text.index(needle)


# Home


def test_home_explains_what_to_do_when_there_are_no_results(client):
    response = client.get("/")

    assert response.status_code == 200
    text = _text(response)
    assert "No results yet" in text
    assert "python manage.py import_lm_eval path/to/results/" in text
    assert "make run" in text
    assert "admin" in text


def test_home_shows_counts_models_trainings_benchmarks_and_recent_evaluations(client):
    model = factories.model(name="pythia-160m", parameter_count=162_322_944)
    model.tags.add(Tag.objects.create(name="deduped"))
    training = factories.training(name="pythia-160m-deduped", model=model)
    metric = factories.metric(benchmark=factories.benchmark(slug="arc_easy", name="ARC (Easy)"))
    for step in (1000, 2000):
        factories.score(metric=metric, value=0.4, checkpoint_obj=factories.checkpoint(training=training, step=step))

    response = client.get("/")

    text = _text(response)
    assert "No results yet" not in text
    assert re.search(r"Models 1 Trainings 1 Checkpoints 2 Benchmarks 1 Evaluations 2 Scores 2", text)
    assert "pythia-160m-deduped 2 checkpoints" in text
    assert "162.3 million parameters" in text
    assert "deduped" in text
    html = response.content.decode()
    assert model.get_absolute_url() in html
    assert training.get_absolute_url() in html
    assert metric.benchmark.get_absolute_url() in html
    latest = Evaluation.objects.order_by("-pk").first()
    assert latest.get_absolute_url() in html
    assert "pythia-160m-deduped @ step 2,000" in text


def test_home_runs_the_same_queries_for_2_and_10_models(client):
    _add_models(2)
    few = _queries(client, "/")
    _add_models(8)

    assert _queries(client, "/") == few
    assert few <= 14  # 13 for the catalogue, 1 for the leaderboards (none here)


# Model page


def test_model_page_shows_metadata_and_trainings_with_checkpoint_counts(client):
    model = factories.model(
        name="pythia-1.4b",
        description="A suite of models for interpretability research.",
        parameter_count=1_414_647_808,
        architecture="GPTNeoXForCausalLM",
        license="Apache-2.0",
    )
    model.tags.add(Tag.objects.create(name="deduped"))
    training = factories.training(name="pythia-1.4b-deduped", model=model)
    for step in (0, 143_000, 71_000):
        factories.checkpoint(training=training, step=step)
    factories.training(name="pythia-1.4b-later", model=model)

    response = client.get(model.get_absolute_url())

    assert response.status_code == 200
    text = _text(response)
    assert "A suite of models for interpretability research." in text
    assert "1.4 billion" in text
    assert "GPTNeoXForCausalLM" in text
    assert "Apache-2.0" in text
    assert "deduped" in text
    assert re.search(r"pythia-1\.4b-deduped Finished – 3 143,000", text)
    assert re.search(r"pythia-1\.4b-later Finished – 0 –", text)


def test_model_page_runs_the_same_queries_for_2_and_10_trainings(client):
    model = factories.model()

    def add_trainings(count: int) -> None:
        for _ in range(count):
            factories.checkpoint(training=factories.training(model=model))

    add_trainings(2)
    few = _queries(client, model.get_absolute_url())
    add_trainings(8)

    assert _queries(client, model.get_absolute_url()) == few
    assert few <= 4  # the model, its tags, its trainings, and the primary metrics they have results on (none here)


# Training page


def test_training_page_lists_checkpoints_by_step_with_evaluated_benchmarks(client):
    training = factories.training(
        name="pythia-70m", config={"lr": 0.001, "batch_size": 1024}, url="https://example.com/runs/70m"
    )
    late = factories.checkpoint(training=training, step=143_000, label="final")
    early = factories.checkpoint(training=training, step=1000)
    for name in ("arc", "piqa"):
        metric = factories.metric(benchmark=factories.benchmark(slug=name))
        factories.score(metric=metric, value=0.5, checkpoint_obj=late)
        factories.score(metric=metric, value=0.6, checkpoint_obj=late)
    factories.evaluation(checkpoint_obj=early, status=Evaluation.Status.FAILED)

    response = client.get(training.get_absolute_url())

    assert response.status_code == 200
    text = _text(response)
    # Steps in order; the checkpoint without results shows dashes, the other the latest values of both metrics.
    assert _position(text, "1,000 – –") < _position(text, "143,000 final best 0.600")
    assert training.model.get_absolute_url() in response.content.decode()
    assert "https://example.com/runs/70m" in text
    assert "&quot;batch_size&quot;: 1024,\n  &quot;lr&quot;: 0.001" in response.content.decode()


def test_training_page_runs_the_same_queries_for_2_and_10_checkpoints(client):
    training = factories.training()
    metric = factories.metric()

    def add_checkpoints(first_step: int, count: int) -> None:
        for step in range(first_step, first_step + count):
            factories.score(metric=metric, value=0.5, checkpoint_obj=factories.checkpoint(training=training, step=step))

    add_checkpoints(0, 2)
    client.get(training.get_absolute_url())  # fills the cached options of the overlay picker
    few = _queries(client, training.get_absolute_url())
    add_checkpoints(2, 8)

    assert _queries(client, training.get_absolute_url()) == few
    assert few <= 12


# Checkpoint page


def test_checkpoint_page_shows_the_latest_succeeded_value_not_an_older_one(client):
    checkpoint = factories.checkpoint(step=2000, storage_uri="s3://weights/pythia/step2000")
    metric = factories.metric(key="acc", benchmark=factories.benchmark(slug="arc_easy", name="ARC (Easy)"), decimals=2)
    _record(checkpoint, metric, 0.111, finished=datetime(2026, 1, 1, tzinfo=UTC))
    newest = _record(checkpoint, metric, 0.6789, stderr=0.0123, finished=datetime(2026, 3, 1, tzinfo=UTC))
    _record(checkpoint, metric, 0.222, finished=datetime(2026, 2, 1, tzinfo=UTC))
    factories.evaluation(checkpoint_obj=checkpoint, benchmark_obj=metric.benchmark, status=Evaluation.Status.FAILED)

    response = client.get(checkpoint.get_absolute_url())

    assert response.status_code == 200
    text = _text(response)
    assert "0.68 ± 0.01" in text
    assert "0.11" not in text
    assert "0.22" not in text
    assert "latest of 4 evaluations" in text
    assert "2026-03-01" in text
    assert f'id="evaluation-{newest.pk}"' in response.content.decode()
    assert "s3://weights/pythia/step2000" in text
    assert checkpoint.training.get_absolute_url() in response.content.decode()
    assert checkpoint.training.model.get_absolute_url() in response.content.decode()


def test_checkpoint_page_groups_scores_by_benchmark_with_their_direction(client):
    checkpoint = factories.checkpoint()
    lambada = factories.benchmark(slug="lambada_openai", name="LAMBADA")
    accuracy = factories.metric(key="acc", benchmark=lambada, decimals=3)
    perplexity = factories.metric(key="perplexity", benchmark=lambada, higher_is_better=False, decimals=1)
    record_result(
        checkpoint,
        lambada,
        {accuracy: ScoreValue(0.5123), perplexity: ScoreValue(12.34, 0.5)},
        source="import",
        harness="lm-evaluation-harness",
        harness_version="0.4.2",
    )
    piqa = factories.metric(benchmark=factories.benchmark(name="PIQA"))
    factories.score(metric=piqa, value=0.7, checkpoint_obj=checkpoint)

    text = _text(client.get(checkpoint.get_absolute_url()))

    accuracy_row = _position(text, "acc primary 0.512 ↑ higher is better")
    perplexity_row = _position(text, "perplexity 12.3 ± 0.5 ↓ lower is better")
    assert _position(text, "LAMBADA") < accuracy_row < perplexity_row
    assert "lm-evaluation-harness 0.4.2" in text
    assert "PIQA" in text
    assert "latest of" not in text


def test_checkpoint_page_runs_the_same_queries_for_2_and_10_benchmarks(client):
    checkpoint = factories.checkpoint()

    def add_results(count: int) -> None:
        for _ in range(count):
            factories.score(metric=factories.metric(), value=0.5, checkpoint_obj=checkpoint)

    add_results(2)
    few = _queries(client, checkpoint.get_absolute_url())
    add_results(8)

    assert _queries(client, checkpoint.get_absolute_url()) == few
    assert few <= 6


# Benchmark list


def test_benchmark_list_groups_active_benchmarks_by_category_and_folds_inactive_ones(client):
    arc = factories.benchmark(slug="arc_easy", name="ARC (Easy)", category="reasoning", num_fewshot=25, version="1")
    factories.metric(benchmark=arc, key="acc_norm")
    factories.score(metric=factories.metric(benchmark=arc, key="acc", is_primary=False), value=0.5)
    factories.benchmark(slug="sciq", name="SciQ", category="knowledge")
    factories.benchmark(slug="misc", name="Misc task")
    factories.benchmark(slug="old_task", name="Old task", is_active=False)

    response = client.get(reverse("evaluations:benchmarks"))

    assert response.status_code == 200
    text = _text(response)
    assert _position(text, "Knowledge 1") < _position(text, "Reasoning 1") < _position(text, "Uncategorised 1")
    assert re.search(r"ARC \(Easy\) arc_easy 25 1 acc_norm ↑ higher is better 1", text)
    assert "Inactive benchmarks 1" in text
    assert _position(text, "Inactive benchmarks") < _position(text, "Old task")
    assert "<details" in response.content.decode()


def test_benchmark_list_runs_the_same_queries_for_2_and_10_benchmarks(client):
    def add_benchmarks(count: int) -> None:
        for index in range(count):
            metric = factories.metric(benchmark=factories.benchmark(category=f"c{index}", is_active=index % 2 == 0))
            factories.score(metric=metric, value=0.5)

    add_benchmarks(2)
    few = _queries(client, reverse("evaluations:benchmarks"))
    add_benchmarks(8)

    assert _queries(client, reverse("evaluations:benchmarks")) == few
    assert few <= 4


# Benchmark page


def _ranked_trainings(response) -> list[str]:
    return re.findall(
        r'<th scope="row"[^>]*><a href="/trainings/\d+/"[^>]*>([^<]+)</a></th>', response.content.decode()
    )


def test_benchmark_page_lists_the_best_checkpoint_first_when_higher_is_better(client):
    metric = factories.metric(key="acc", benchmark=factories.benchmark(name="ARC"), lower_bound=0, upper_bound=1)
    for training, value in [("a", 0.31), ("b", 0.72), ("c", 0.55)]:
        factories.score(metric=metric, value=value, training=training)

    response = client.get(metric.benchmark.get_absolute_url())

    assert response.status_code == 200
    assert _ranked_trainings(response) == ["b", "c", "a"]
    assert "Higher is better, highest first." in _text(response)
    assert "0.000 … 1.000" in _text(response)


def test_benchmark_page_lists_the_lowest_value_first_when_lower_is_better(client):
    metric = factories.metric(key="perplexity", higher_is_better=False)
    for training, value in [("a", 12.0), ("b", 9.5), ("c", 30.1)]:
        factories.score(metric=metric, value=value, training=training)

    response = client.get(metric.benchmark.get_absolute_url())

    assert _ranked_trainings(response) == ["b", "a", "c"]
    assert "Lower is better, lowest first." in _text(response)


def test_benchmark_page_lists_values_of_an_unknown_direction_unranked(client):
    metric = factories.metric(key="pct_stereotype")
    Metric.objects.filter(pk=metric.pk).update(direction=Metric.Direction.UNKNOWN)
    for training, value in [("a", 0.55), ("b", 0.61)]:
        factories.score(metric=metric, value=value, training=training)

    response = client.get(metric.benchmark.get_absolute_url())

    text = _text(response)
    assert _ranked_trainings(response) == ["b", "a"]
    assert "direction is unknown, so checkpoints are not ranked" in text
    assert re.search(r"– b 0\.610 1,000 \S+", text)  # rank, training, value, step, model


def test_benchmark_page_breaks_ties_by_training_name_then_step_and_shares_the_rank(client):
    metric = factories.metric()
    shared = factories.training(name="m")
    factories.score(metric=metric, value=0.5, checkpoint_obj=factories.checkpoint(training=shared, step=2000))
    factories.score(metric=metric, value=0.5, checkpoint_obj=factories.checkpoint(training=shared, step=1000))
    factories.score(metric=metric, value=0.5, training="b")
    factories.score(metric=metric, value=0.9, training="z")

    response = client.get(metric.benchmark.get_absolute_url())

    text = _text(response)
    assert _ranked_trainings(response) == ["z", "b", "m", "m"]
    assert re.search(r"1 z 0\.900 1,000 .* 2 b 0\.500 1,000 .* 2 m 0\.500 1,000 .* 2 m 0\.500 2,000", text)


def test_benchmark_page_ranks_each_checkpoint_by_its_latest_succeeded_evaluation_only(client):
    metric = factories.metric()
    improved = factories.checkpoint(training_name="improved")
    regressed = factories.checkpoint(training_name="regressed")
    _record(improved, metric, 0.2, finished=datetime(2026, 1, 1, tzinfo=UTC))
    _record(improved, metric, 0.8, finished=datetime(2026, 2, 1, tzinfo=UTC))
    _record(regressed, metric, 0.9, finished=datetime(2026, 1, 1, tzinfo=UTC))
    _record(regressed, metric, 0.1, finished=datetime(2026, 2, 1, tzinfo=UTC))
    factories.evaluation(checkpoint_obj=regressed, benchmark_obj=metric.benchmark, status=Evaluation.Status.FAILED)

    response = client.get(metric.benchmark.get_absolute_url())

    assert _ranked_trainings(response) == ["improved", "regressed"]
    text = _text(response)
    assert "0.900" not in text
    assert "0.200" not in text
    assert "2 checkpoints." in text


def test_benchmark_page_shows_its_metrics_and_only_the_top_50(client):
    benchmark = factories.benchmark(
        slug="lambada_openai", name="LAMBADA", description="Word prediction.", url="https://example.com/lambada"
    )
    metric = factories.metric(benchmark=benchmark, key="acc", name="Accuracy", baseline=0.25)
    factories.metric(benchmark=benchmark, key="perplexity", higher_is_better=False)
    for index in range(52):
        factories.score(metric=metric, value=index / 100, training=f"t{index:02}")

    response = client.get(benchmark.get_absolute_url())

    text = _text(response)
    assert "Word prediction." in text
    assert "https://example.com/lambada" in text
    assert re.search(r"acc Accuracy ↑ higher is better primary 0\.250", text)
    assert re.search(r"perplexity perplexity ↓ lower is better –", text)
    assert len(_ranked_trainings(response)) == 50
    assert "1–50 of 52 checkpoints." in text


def test_benchmark_page_without_a_primary_metric_says_there_is_nothing_to_rank(client):
    benchmark = factories.benchmark()
    factories.metric(benchmark=benchmark, is_primary=False)

    response = client.get(benchmark.get_absolute_url())

    assert response.status_code == 200
    assert "No primary metric is set" in _text(response)


def test_benchmark_page_runs_the_same_queries_for_2_and_10_checkpoints(client):
    metric = factories.metric()

    def add_scores(count: int) -> None:
        for _ in range(count):
            factories.score(metric=metric, value=0.5)

    add_scores(2)
    few = _queries(client, metric.benchmark.get_absolute_url())
    add_scores(8)

    assert _queries(client, metric.benchmark.get_absolute_url()) == few
    assert few <= 6  # 4 for the page, 2 for its coverage


# Not found, errors, signing in and out


@pytest.mark.parametrize(
    "name", ["evaluations:model", "rankings:training", "rankings:checkpoint", "evaluations:benchmark"]
)
def test_unknown_pk_answers_404_with_the_friendly_page(client, name):
    response = client.get(reverse(name, args=[987654]))

    assert response.status_code == 404
    assert "Page not found" in _text(response)
    assert "Go to the home page" in _text(response)


def test_error_pages_render_without_a_request():
    html = render_to_string("500.html")

    assert "Something went wrong" in html
    assert "Leaderboard" in html


def test_forbidden_page_offers_to_sign_in(rf):
    request = rf.get("/somewhere/")
    request.user = AnonymousUser()

    html = render_to_string("403.html", request=request)

    assert "You can't do that here" in html
    assert "/accounts/login/?next=/somewhere/" in html


def test_messages_are_shown_in_the_layout(rf):
    request = rf.get("/")
    request.user = AnonymousUser()
    request._messages = CookieStorage(request)
    messages.success(request, "Imported 3 files.")

    html = render_to_string("404.html", {"request_path": "/x/"}, request=request)

    assert '<li class="message message--success">Imported 3 files.</li>' in html


def test_login_page_renders_the_form(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert "csrfmiddlewaretoken" in html


def test_signing_in_leads_home_with_sign_out_and_admin_links(client, django_user_model):
    django_user_model.objects.create_user("ada", password="a-long-test-password", is_staff=True)

    response = client.post(reverse("login"), {"username": "ada", "password": "a-long-test-password"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("home")
    html = response.content.decode()
    assert f'action="{reverse("logout")}"' in html
    assert 'href="/admin/"' in html


def test_signing_out_works_with_a_post(staff_client):
    response = staff_client.post(reverse("logout"))

    assert response.status_code == 302
    assert "_auth_user_id" not in staff_client.session
    assert "Sign in" in _text(staff_client.get("/"))


def test_anonymous_visitors_see_no_admin_link(client):
    html = client.get("/").content.decode()

    assert 'href="/admin/"' not in html
    assert "Sign in" in _text(client.get("/"))


def test_benchmark_identifiers_are_primary_keys():
    benchmark = Benchmark(pk=7)

    assert benchmark.get_absolute_url() == "/benchmarks/7/"


def test_benchmark_page_shows_its_evaluation_coverage(client):
    metric = factories.metric()
    factories.score(metric=metric, value=0.5, step=1)
    pending = factories.checkpoint(step=2)
    factories.evaluation(checkpoint_obj=pending, benchmark_obj=metric.benchmark, status=Evaluation.Status.PENDING)
    factories.checkpoint(step=3)
    response = client.get(metric.benchmark.get_absolute_url())
    assert response.context["coverage"] == {"done": 1, "open": 1, "attempted": 2, "total": 3, "missing": 1}
