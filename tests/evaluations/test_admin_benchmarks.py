"""Curating benchmarks in the admin: metrics inline, one primary metric, directions, activation."""

import pytest
from django.urls import reverse

from evaluations.admin import ONE_PRIMARY_METRIC
from evaluations.models import Benchmark, Metric
from tests import factories

pytestmark = pytest.mark.django_db


def form_value(value: object) -> str | None:
    """How a browser posts a value: checkboxes are "on" or absent, empty numbers are empty strings."""
    if value is True:
        return "on"
    if value is False:
        return None
    return "" if value is None else str(value)


def inline_form_data(prefix: str, rows: list[dict], *, initial: int) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for name, value in row.items():
            if (posted := form_value(value)) is not None:
                data[f"{prefix}-{index}-{name}"] = posted
    return data


def _metric_row(metric: Metric | None = None, **changes) -> dict:
    row = {"key": "acc", "name": "", "direction": "higher", "is_primary": False, "decimals": 3}
    if metric is not None:
        row |= {
            "id": metric.pk,
            "benchmark": metric.benchmark_id,
            "key": metric.key,
            "name": metric.name,
            "direction": metric.direction,
            "is_primary": metric.is_primary,
            "lower_bound": metric.lower_bound,
            "upper_bound": metric.upper_bound,
            "baseline": metric.baseline,
            "decimals": metric.decimals,
        }
    return row | changes


def _benchmark_form(benchmark: Benchmark | None, metrics: list[dict], **changes) -> dict:
    fields = {"slug": "arc_easy", "num_fewshot": 0, "version": "", "name": "ARC (Easy)", "is_active": True}
    if benchmark is not None:
        fields = {
            "slug": benchmark.slug,
            "num_fewshot": benchmark.num_fewshot,
            "version": benchmark.version,
            "name": benchmark.name,
            "category": benchmark.category,
            "is_active": benchmark.is_active,
        }
    fields |= changes
    initial = sum(1 for row in metrics if "id" in row)
    posted = {name: value for name, value in ((n, form_value(v)) for n, v in fields.items()) if value is not None}
    return posted | inline_form_data("metrics", metrics, initial=initial)


def _post_benchmark(client, benchmark: Benchmark | None, metrics: list[dict], **changes):
    url = (
        reverse("admin:evaluations_benchmark_change", args=[benchmark.pk])
        if benchmark
        else reverse("admin:evaluations_benchmark_add")
    )
    return client.post(url, _benchmark_form(benchmark, metrics, **changes))


def _primary_keys(benchmark: Benchmark) -> list[str]:
    return list(benchmark.metrics.filter(is_primary=True).values_list("key", flat=True))


def test_adding_a_benchmark_with_two_metrics_and_one_primary_saves_them(staff_client):
    rows = [
        _metric_row(key="acc", is_primary=True, baseline=0.25, lower_bound=0, upper_bound=1),
        _metric_row(key="acc_norm", direction="unknown"),
    ]
    response = _post_benchmark(staff_client, None, rows, category="reasoning")
    assert response.status_code == 302
    benchmark = Benchmark.objects.get(slug="arc_easy")
    assert sorted(benchmark.metrics.values_list("key", "direction", "is_primary")) == [
        ("acc", "higher", True),
        ("acc_norm", "unknown", False),
    ]
    assert benchmark.metrics.get(key="acc").baseline == 0.25


def test_adding_a_benchmark_without_metrics_needs_no_primary(staff_client):
    response = _post_benchmark(staff_client, None, [])
    assert response.status_code == 302
    assert Benchmark.objects.filter(slug="arc_easy").exists()


@pytest.mark.parametrize(
    "primary_flags", [(True, True), (False, False)], ids=["two primary metrics", "no primary metric"]
)
def test_benchmark_metrics_need_exactly_one_primary(staff_client, primary_flags: tuple[bool, bool]):
    rows = [_metric_row(key=key, is_primary=flag) for key, flag in zip(["acc", "acc_norm"], primary_flags, strict=True)]
    response = _post_benchmark(staff_client, None, rows)
    assert response.status_code == 200
    assert ONE_PRIMARY_METRIC in response.content.decode()
    assert not Benchmark.objects.exists()
    assert not Metric.objects.exists()


def test_two_primary_metrics_on_an_existing_benchmark_leave_it_unchanged(staff_client):
    acc = factories.metric(key="acc")
    norm = factories.metric(benchmark=acc.benchmark, key="acc_norm")
    rows = [_metric_row(acc), _metric_row(norm, is_primary=True)]
    response = _post_benchmark(staff_client, acc.benchmark, rows)
    assert response.status_code == 200
    assert ONE_PRIMARY_METRIC in response.content.decode()
    assert _primary_keys(acc.benchmark) == ["acc"]


def test_switching_the_primary_metric_in_one_save(staff_client):
    acc = factories.metric(key="acc")
    norm = factories.metric(benchmark=acc.benchmark, key="acc_norm")
    rows = [_metric_row(acc, is_primary=False), _metric_row(norm, is_primary=True)]
    response = _post_benchmark(staff_client, acc.benchmark, rows)
    assert response.status_code == 302
    assert _primary_keys(acc.benchmark) == ["acc_norm"]


def test_deleting_the_primary_metric_and_promoting_another(staff_client):
    acc = factories.metric(key="acc")
    norm = factories.metric(benchmark=acc.benchmark, key="acc_norm")
    rows = [_metric_row(acc, DELETE=True), _metric_row(norm, is_primary=True)]
    response = _post_benchmark(staff_client, acc.benchmark, rows)
    assert response.status_code == 302
    assert list(acc.benchmark.metrics.values_list("key", "is_primary")) == [("acc_norm", True)]


def test_adding_a_new_primary_metric_demotes_the_old_one(staff_client):
    acc = factories.metric(key="acc")
    rows = [_metric_row(acc, is_primary=False), _metric_row(key="f1", is_primary=True)]
    response = _post_benchmark(staff_client, acc.benchmark, rows)
    assert response.status_code == 302
    assert _primary_keys(acc.benchmark) == ["f1"]


def test_changing_a_metric_direction_on_the_benchmark_page_saves(staff_client):
    metric = factories.metric(key="perplexity")
    response = _post_benchmark(staff_client, metric.benchmark, [_metric_row(metric, direction="lower")])
    assert response.status_code == 302
    metric.refresh_from_db()
    assert metric.direction == Metric.Direction.LOWER


def test_a_baseline_outside_the_bounds_is_a_form_error(staff_client):
    rows = [_metric_row(key="acc", is_primary=True, lower_bound=0, upper_bound=1, baseline=2)]
    response = _post_benchmark(staff_client, None, rows)
    assert response.status_code == 200
    assert "The baseline must lie within the metric&#x27;s bounds." in response.content.decode()
    assert not Benchmark.objects.exists()


def test_deleting_a_metric_that_has_scores_is_refused(staff_client):
    acc = factories.metric(key="acc")
    norm = factories.metric(benchmark=acc.benchmark, key="acc_norm")
    factories.score(metric=norm, value=0.5)
    rows = [_metric_row(acc), _metric_row(norm, DELETE=True)]
    response = _post_benchmark(staff_client, acc.benchmark, rows)
    assert response.status_code == 200
    assert "would require deleting the following protected related objects" in response.content.decode()
    assert acc.benchmark.metrics.count() == 2


def _run_action(client, action: str, benchmarks: list[Benchmark], query: str = ""):
    url = reverse("admin:evaluations_benchmark_changelist") + query
    data = {"action": action, "_selected_action": [benchmark.pk for benchmark in benchmarks]}
    return client.post(url, data, follow=True)


def test_activating_benchmarks_reports_how_many_changed(staff_client):
    benchmarks = [factories.benchmark(is_active=False), factories.benchmark(is_active=False), factories.benchmark()]
    response = _run_action(staff_client, "activate", benchmarks)
    assert "2 benchmarks activated." in response.content.decode()
    assert Benchmark.objects.filter(is_active=True).count() == 3


def test_deactivating_benchmarks_reports_how_many_changed(staff_client):
    benchmarks = [factories.benchmark(), factories.benchmark(is_active=False)]
    untouched = factories.benchmark()
    response = _run_action(staff_client, "deactivate", benchmarks)
    assert "1 benchmark deactivated." in response.content.decode()
    assert list(Benchmark.objects.filter(is_active=True)) == [untouched]


def test_actions_work_on_a_list_sorted_by_a_count(staff_client):
    benchmark = factories.benchmark(is_active=False)
    factories.metric(benchmark=benchmark)
    response = _run_action(staff_client, "activate", [benchmark], query="?o=-7.9")
    assert "1 benchmark activated." in response.content.decode()


def test_setting_a_direction_in_the_metric_list_saves(staff_client):
    metric = factories.metric(key="bleu")
    Metric.objects.filter(pk=metric.pk).update(direction=Metric.Direction.UNKNOWN)
    data = inline_form_data("form", [{"id": metric.pk, "direction": "higher"}], initial=1) | {"_save": "Save"}
    response = staff_client.post(reverse("admin:evaluations_metric_changelist"), data)
    assert response.status_code == 302
    metric.refresh_from_db()
    assert metric.direction == Metric.Direction.HIGHER


def _metric_page_form(metric: Metric, **changes) -> dict:
    row = _metric_row(metric, **changes)
    row.pop("id")
    row.pop("benchmark")
    return {name: posted for name, value in row.items() if (posted := form_value(value)) is not None}


def test_marking_a_metric_primary_on_its_page_demotes_the_previous_one(staff_client):
    acc = factories.metric(key="acc")
    norm = factories.metric(benchmark=acc.benchmark, key="acc_norm")
    url = reverse("admin:evaluations_metric_change", args=[norm.pk])
    response = staff_client.post(url, _metric_page_form(norm, is_primary=True), follow=True)
    assert f"Primary metric of {acc.benchmark.slug} changed from acc to acc_norm." in response.content.decode()
    assert _primary_keys(acc.benchmark) == ["acc_norm"]


def test_unmarking_the_only_primary_metric_on_its_page_is_refused(staff_client):
    acc = factories.metric(key="acc")
    url = reverse("admin:evaluations_metric_change", args=[acc.pk])
    response = staff_client.post(url, _metric_page_form(acc, is_primary=False))
    assert response.status_code == 200
    assert ONE_PRIMARY_METRIC in response.content.decode()
    assert _primary_keys(acc.benchmark) == ["acc"]


def test_adding_a_second_metric_on_the_metric_page(staff_client):
    acc = factories.metric(key="acc")
    data = {"benchmark": acc.benchmark_id, "key": "acc_norm", "direction": "higher", "decimals": "3"}
    response = staff_client.post(reverse("admin:evaluations_metric_add"), data)
    assert response.status_code == 302
    assert _primary_keys(acc.benchmark) == ["acc"]
