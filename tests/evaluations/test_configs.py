"""Configs are stored once however many evaluations share them, and every reader still sees each evaluation's own."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from evaluations.models import Evaluation, EvaluationConfig
from evaluations.results import Result, ScoreValue, record_results
from tests import factories

BEFORE = [("evaluations", "0003_score_values_in_rankable_range")]
AFTER = [("evaluations", "0004_evaluation_config")]
RUN = {"model": "hf-causal", "batch_size": 32, "imported_from": "pythia-160m/step1000.json"}


def _record(config: dict | None, *, steps=(1000,), slugs=("piqa",)) -> list[Evaluation]:
    results = []
    for slug in slugs:
        benchmark = factories.benchmark(slug=slug)
        metric = benchmark.metrics.first() or factories.metric(benchmark=benchmark, key="acc")
        for step in steps:
            checkpoint = factories.checkpoint(training_name="pythia-160m", step=step)
            results.append(Result(checkpoint, metric.benchmark, {metric: ScoreValue(0.5)}, source="api", config=config))
    return [outcome.evaluation for outcome in record_results(results)]


@pytest.mark.django_db
def test_evaluations_with_the_same_config_share_one_row():
    first, second = _record(RUN, slugs=("piqa", "arc_easy"))
    _record(dict(reversed(RUN.items())), steps=(2000,), slugs=("sciq",))
    assert EvaluationConfig.objects.count() == 1
    assert first.run_config_id == second.run_config_id
    assert [evaluation.config for evaluation in Evaluation.objects.all()] == [RUN, RUN, RUN]


@pytest.mark.django_db
def test_a_different_config_gets_its_own_row_and_an_empty_one_none():
    (first,) = _record(RUN)
    (other,) = _record(RUN | {"batch_size": 8}, steps=(2000,))
    (bare,) = _record(None, steps=(3000,))
    assert EvaluationConfig.objects.count() == 2
    assert Evaluation.objects.get(pk=other.pk).config == RUN | {"batch_size": 8}
    assert Evaluation.objects.get(pk=first.pk).config == RUN
    assert Evaluation.objects.get(pk=bare.pk).config == {}


@pytest.mark.django_db
def test_the_api_lists_each_evaluations_config_without_a_query_per_row():
    _record(RUN, steps=(1000, 2000))
    _record({"batch_size": 8}, steps=(3000,))
    client = APIClient()
    client.force_authenticate(factories.user())
    with CaptureQueriesContext(connection) as three:
        response = client.get("/api/v1/evaluations/")
    assert sorted(row["config"]["batch_size"] for row in response.json()["results"]) == [8, 32, 32]
    _record({"batch_size": 16}, steps=(4000,), slugs=("sciq", "arc_easy"))
    with CaptureQueriesContext(connection) as five:
        assert len(client.get("/api/v1/evaluations/").json()["results"]) == 5
    assert len(five) == len(three)


@pytest.mark.django_db
def test_the_admin_shows_the_config_and_saving_another_leaves_the_shared_row_alone(staff_client):
    first, second = _record(RUN, slugs=("piqa", "arc_easy"))
    url = reverse("admin:evaluations_evaluation_change", args=[first.pk])
    assert "pythia-160m/step1000.json" in staff_client.get(url).content.decode()
    form = {
        "status": first.status,
        "source": first.source,
        "config": '{"batch_size": 8}',
        "finished_at_0": "2026-11-01",
        "finished_at_1": "12:00:00",
        "scores-TOTAL_FORMS": "0",
        "scores-INITIAL_FORMS": "0",
    }
    assert staff_client.post(url, form).status_code == 302
    assert Evaluation.objects.get(pk=first.pk).config == {"batch_size": 8}
    assert Evaluation.objects.get(pk=second.pk).config == RUN


@pytest.mark.django_db
def test_the_admin_refuses_a_config_that_is_not_an_object(staff_client):
    (evaluation,) = _record(RUN)
    url = reverse("admin:evaluations_evaluation_change", args=[evaluation.pk])
    form = {"status": evaluation.status, "source": evaluation.source, "config": "[1, 2]"}
    response = staff_client.post(url, form | {"scores-TOTAL_FORMS": "0", "scores-INITIAL_FORMS": "0"})
    assert response.status_code == 200
    assert "The config must be a JSON object." in response.content.decode()
    assert Evaluation.objects.get(pk=evaluation.pk).config == RUN


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_existing_configs_into_shared_rows_and_back(settings):
    # The test database is built from the models (--no-migrations), which is the state of the latest migrations:
    # record them as applied, so the executor can go back to before the configs were shared and forward again.
    settings.MIGRATION_MODULES = {}
    recorder = MigrationRecorder(connection)
    for app, name in MigrationExecutor(connection).loader.graph.nodes:
        recorder.record_applied(app, name)
    try:
        _migrate_old_configs()
    finally:
        recorder.flush()


def _migrate_old_configs():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    checkpoint = old.get_model("evaluations", "Checkpoint").objects.create(
        training=old.get_model("evaluations", "Training").objects.create(
            model=old.get_model("evaluations", "ModelFamily").objects.create(name="pythia-160m"), name="pythia-160m"
        ),
        step=1000,
    )
    Benchmark = old.get_model("evaluations", "Benchmark")
    OldEvaluation = old.get_model("evaluations", "Evaluation")
    configs = [RUN, dict(reversed(RUN.items())), {"batch_size": 8}, {}]
    for index, config in enumerate(configs):
        benchmark = Benchmark.objects.create(slug=f"task-{index}", name=f"Task {index}")
        OldEvaluation.objects.create(checkpoint=checkpoint, benchmark=benchmark, status="succeeded", config=config)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    moved = new.get_model("evaluations", "Evaluation").objects.order_by("benchmark__slug")
    assert new.get_model("evaluations", "EvaluationConfig").objects.count() == 2
    assert [e.run_config.data if e.run_config_id else {} for e in moved] == [RUN, RUN, {"batch_size": 8}, {}]

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    back = executor.loader.project_state(BEFORE).apps.get_model("evaluations", "Evaluation")
    assert [e.config for e in back.objects.order_by("benchmark__slug")] == [RUN, RUN, {"batch_size": 8}, {}]
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
