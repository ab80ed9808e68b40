"""The same lm-eval results uploaded by several clients at once (PostgreSQL: real concurrent transactions).

tests/api/test_concurrency.py already posts the same results to /results/ at once; this is the upload path, which
creates models, trainings, checkpoints, benchmarks and metrics on first sight through the importer.
"""

import pytest
from django.db import connection

from evaluations.current import current_score_drift
from evaluations.models import Benchmark, Checkpoint, CurrentScore, Evaluation, Metric, ModelFamily, Score, Training
from tests import factories
from tests.api.conftest import CREATE_CATALOG, WRITE, client_for
from tests.api.test_imports import lm_eval_file
from tests.threads import at_once

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL"),
]

URL = "/api/v1/imports/lm-eval/"
CLIENTS = 6
RETRYABLE = (409, 503)


def upload(client, body: dict) -> list[int]:
    """Post the upload, sending it again after an answer that asks for that; returns every status received."""
    statuses = []
    for _ in range(5):
        response = client.post(URL, body, format="json")
        statuses.append(response.status_code)
        if response.status_code not in RETRYABLE:
            return statuses
        assert response.json()["code"] in ("conflict", "database_unavailable")
    return statuses


def upload_at_once(body: dict) -> list[int]:
    """The final status of each client's upload."""
    clients = [client_for(factories.user(perms=(WRITE, *CREATE_CATALOG))) for _ in range(CLIENTS)]
    histories = at_once(*(lambda client=client: upload(client, body) for client in clients))
    return [history[-1] for history in histories]


def row_counts() -> dict[str, int]:
    tables = (ModelFamily, Training, Checkpoint, Benchmark, Metric, Evaluation, Score, CurrentScore)
    return {model.__name__: model.objects.count() for model in tables}


def test_a_new_models_results_uploaded_at_once_are_recorded_once():
    body = {"files": [{"name": "a.json", "content": lm_eval_file(acc=0.5)}]}

    final = upload_at_once(body)

    assert sorted(final) == [200] * (CLIENTS - 1) + [201]
    # One model, training, checkpoint and benchmark; the file's two metrics, one evaluation, its scores.
    assert row_counts() == {
        "ModelFamily": 1,
        "Training": 1,
        "Checkpoint": 1,
        "Benchmark": 1,
        "Metric": 2,
        "Evaluation": 1,
        "Score": 2,
        "CurrentScore": 2,
    }
    assert current_score_drift() == {"missing": 0, "extra": 0, "different": 0}


def test_new_values_for_a_known_checkpoint_uploaded_at_once_are_one_new_evaluation():
    writer = client_for(factories.user(perms=(WRITE, *CREATE_CATALOG)))
    assert upload(writer, {"files": [{"name": "old.json", "content": lm_eval_file(acc=0.4)}]}) == [201]
    body = {"files": [{"name": "new.json", "content": lm_eval_file(acc=0.6)}]}

    final = upload_at_once(body)

    assert sorted(final) == [200] * (CLIENTS - 1) + [201]
    assert (Evaluation.objects.count(), Score.objects.count(), CurrentScore.objects.count()) == (2, 4, 2)
    assert CurrentScore.objects.get(metric__key="acc").value == 0.6
    assert current_score_drift() == {"missing": 0, "extra": 0, "different": 0}


def test_new_values_for_known_checkpoints_uploaded_in_opposite_orders_at_once_are_recorded_once():
    """Each file's checkpoint is locked as it is written, so uploads in opposite orders may deadlock: PostgreSQL
    rolls one back, the client gets a 409 that asks to send it again, and the retry finds everything recorded."""

    def files(acc: float) -> list[dict]:
        return [
            {"name": f"step{step}.json", "content": lm_eval_file(revision=f"step{step}", acc=acc + step / 10_000)}
            for step in (1000, 2000, 3000)
        ]

    writer = client_for(factories.user(perms=(WRITE, *CREATE_CATALOG)))
    assert upload(writer, {"files": files(0.1)}) == [201]
    clients = [client_for(factories.user(perms=(WRITE, *CREATE_CATALOG))) for _ in range(CLIENTS)]
    bodies = [{"files": files(0.5) if index % 2 else files(0.5)[::-1]} for index in range(CLIENTS)]

    histories = at_once(*(lambda c=c, b=b: upload(c, b) for c, b in zip(clients, bodies, strict=True)))

    assert sorted(history[-1] for history in histories) == [200] * (CLIENTS - 1) + [201]
    assert (Checkpoint.objects.count(), Evaluation.objects.count(), Score.objects.count()) == (3, 6, 12)
    assert sorted(CurrentScore.objects.filter(metric__key="acc").values_list("value", flat=True)) == [
        0.6,
        0.7,
        0.8,
    ]
    assert current_score_drift() == {"missing": 0, "extra": 0, "different": 0}
