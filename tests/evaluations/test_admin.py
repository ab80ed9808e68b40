"""Every admin page loads for staff, with a number of queries that does not grow with the rows it shows."""

import itertools
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evaluations.models import Benchmark, Checkpoint, Evaluation, Metric, ModelFamily, Tag, Training
from tests import factories

pytestmark = pytest.mark.django_db

_unique = itertools.count(1)

# No page needs more; the point of the tests below is that the count stays put as rows are added.
MAX_QUERIES = 10

Page = Callable[[], tuple[str, Callable[[int], None]]]


def _unknown_direction_metric(**fields) -> Metric:
    metric = factories.metric(**fields)
    Metric.objects.filter(pk=metric.pk).update(direction=Metric.Direction.UNKNOWN)
    return metric


def _add_benchmark() -> Benchmark:
    benchmark = factories.benchmark(category="reasoning")
    factories.metric(benchmark=benchmark, key="acc")
    _unknown_direction_metric(benchmark=benchmark, key="acc_norm")
    factories.evaluation(benchmark_obj=benchmark)
    return benchmark


def _add_model() -> ModelFamily:
    model = factories.model(architecture="gpt-neox", license="apache-2.0")
    model.tags.add(Tag.objects.create(name=f"tag-{next(_unique)}"))
    factories.training(model=model)
    return model


def _repeat(add_row: Callable[[], object]) -> Callable[[int], None]:
    def grow(count: int) -> None:
        for _ in range(count):
            add_row()

    return grow


def _changelist(model: type, add_row: Callable[[], object]) -> Page:
    return lambda: (reverse(f"admin:evaluations_{model._meta.model_name}_changelist"), _repeat(add_row))


def _change(make_parent: Callable[[], object], add_child: Callable[[object], object]) -> Page:
    """The change page of one object, grown by adding children it shows (inline rows, tags)."""

    def page() -> tuple[str, Callable[[int], None]]:
        parent = make_parent()
        url = reverse(f"admin:evaluations_{parent._meta.model_name}_change", args=[parent.pk])
        return url, _repeat(lambda: add_child(parent))

    return page


def _autocomplete(model_name: str, field_name: str, add_row: Callable[[], object]) -> Page:
    query = f"app_label=evaluations&model_name={model_name}&field_name={field_name}&term="
    return lambda: (f"{reverse('admin:autocomplete')}?{query}", _repeat(add_row))


def _add_score(evaluation: Evaluation) -> None:
    metric = factories.metric(benchmark=evaluation.benchmark, key=f"metric-{next(_unique)}")
    evaluation.scores.create(metric=metric, value=0.5, stderr=0.01)


PAGES: dict[str, Page] = {
    "benchmark list": _changelist(Benchmark, _add_benchmark),
    "metric list": _changelist(Metric, _unknown_direction_metric),
    "model list": _changelist(ModelFamily, _add_model),
    "tag list": _changelist(Tag, lambda: factories.model().tags.add(Tag.objects.create(name=f"t-{next(_unique)}"))),
    "training list": _changelist(Training, lambda: factories.checkpoint().training),
    "checkpoint list": _changelist(Checkpoint, factories.checkpoint),
    "evaluation list": _changelist(Evaluation, lambda: factories.evaluation(harness="lm-evaluation-harness")),
    "benchmark page": _change(
        factories.benchmark, lambda benchmark: factories.metric(benchmark=benchmark, key=f"m-{next(_unique)}")
    ),
    "metric page": _change(
        factories.metric, lambda metric: factories.metric(benchmark=metric.benchmark, key=f"m-{next(_unique)}")
    ),
    "model page": _change(
        factories.model,
        lambda model: (factories.training(model=model), model.tags.add(Tag.objects.create(name=f"t-{next(_unique)}"))),
    ),
    "tag page": _change(lambda: Tag.objects.create(name="deduped"), lambda tag: factories.model().tags.add(tag)),
    "training page": _change(
        factories.training, lambda training: factories.checkpoint(training=training, step=next(_unique))
    ),
    "checkpoint page": _change(
        factories.checkpoint, lambda checkpoint: factories.evaluation(checkpoint_obj=checkpoint)
    ),
    "evaluation page": _change(factories.evaluation, _add_score),
    "checkpoint autocomplete": _autocomplete("evaluation", "checkpoint", factories.checkpoint),
    "benchmark autocomplete": _autocomplete("evaluation", "benchmark", factories.benchmark),
    "training autocomplete": _autocomplete("checkpoint", "training", factories.training),
    "model autocomplete": _autocomplete("training", "model", factories.model),
    "tag autocomplete": _autocomplete("modelfamily", "tags", lambda: Tag.objects.create(name=f"t-{next(_unique)}")),
}


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(context.captured_queries)


@pytest.mark.parametrize("page", PAGES.values(), ids=PAGES.keys())
def test_page_runs_as_many_queries_for_20_rows_as_for_3(staff_client, page: Page):
    url, grow = page()
    grow(3)
    staff_client.get(url)  # the first request fills per-process caches (content types)
    with_3 = _queries(staff_client, url)
    grow(17)
    with_20 = _queries(staff_client, url)
    assert with_20 == with_3
    assert with_20 <= MAX_QUERIES


@pytest.mark.parametrize("model", [Benchmark, Metric, ModelFamily, Tag, Training, Checkpoint, Evaluation])
def test_changelist_lists_every_row(staff_client, model: type):
    for _ in range(3):
        _add_benchmark()
        _add_model()
    response = staff_client.get(reverse(f"admin:evaluations_{model._meta.model_name}_changelist"))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == model.objects.count() >= 3


@pytest.mark.parametrize("model", [Benchmark, Metric, ModelFamily, Tag, Training, Checkpoint, Evaluation])
def test_add_page_loads(staff_client, django_assert_max_num_queries, model: type):
    factories.metric()
    url = reverse(f"admin:evaluations_{model._meta.model_name}_add")
    with django_assert_max_num_queries(MAX_QUERIES):
        response = staff_client.get(url)
    assert response.status_code == 200


def test_evaluation_list_filters_by_benchmark_category(staff_client):
    kept = factories.evaluation(benchmark_obj=factories.benchmark(category="reasoning"))
    factories.evaluation(benchmark_obj=factories.benchmark(category="bias"))
    url = reverse("admin:evaluations_evaluation_changelist") + "?benchmark__category=reasoning"
    response = staff_client.get(url)
    assert list(response.context["cl"].result_list) == [kept]


def test_metric_list_counts_metrics_without_a_direction(staff_client):
    _unknown_direction_metric()
    _unknown_direction_metric()
    factories.metric()
    response = staff_client.get(reverse("admin:evaluations_metric_changelist"))
    assert "unknown: set it (2)" in response.content.decode()


def test_benchmark_list_shows_counts_and_primary_metric(staff_client):
    benchmark = _add_benchmark()
    factories.evaluation(benchmark_obj=benchmark)
    response = staff_client.get(reverse("admin:evaluations_benchmark_changelist"))
    row = response.context["cl"].result_list[0]
    assert (row.metric_count, row.evaluation_count, row.primary_metric_key) == (2, 2, "acc")


def test_admin_pages_carry_the_site_header(staff_client):
    response = staff_client.get(reverse("admin:index"))
    assert "Leaderboard administration" in response.content.decode()


@pytest.mark.parametrize("url_name", ["admin:index", "admin:evaluations_benchmark_changelist"])
def test_non_staff_users_are_sent_to_the_admin_login(client, django_user_model, url_name: str):
    client.force_login(django_user_model.objects.create_user("viewer", password="a-long-test-password"))
    url = reverse(url_name)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('admin:login')}?next={url}"


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    url = reverse("admin:evaluations_evaluation_changelist")
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_training_page_lists_checkpoints_by_step(staff_client):
    training = factories.training()
    for step in [3000, 1000, 2000]:
        factories.checkpoint(training=training, step=step)
    response = staff_client.get(reverse("admin:evaluations_training_change", args=[training.pk]))
    formset = response.context["inline_admin_formsets"][0].formset
    assert [form.instance.step for form in formset.forms] == [1000, 2000, 3000]
