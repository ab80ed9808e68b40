"""The ranking, queue and coverage controls in a real browser: the form's own fields make the query, every time."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def page(request, browser, demo_site):
    context = browser.new_context(
        base_url=demo_site.url, viewport={"width": 1280, "height": 900}, java_script_enabled=request.param
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.javascript = request.param
    yield page
    context.close()


def apply(page, button: str = "Apply") -> None:
    """Without JavaScript the user presses the form's button; with it, the change event already sent the form."""
    if not page.javascript:
        page.get_by_role("button", name=button).click()


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_clearing_the_search_box_shows_every_row_again(page):
    rows = page.locator("table.leaderboard tbody tr")
    note = page.locator("#results .table-actions")
    page.goto("/leaderboards/zero-shot/")
    expect(rows).to_have_count(16)

    page.fill("#id_q", "deduped")
    page.press("#id_q", "Enter") if page.javascript else apply(page)
    expect(rows).to_have_count(8)
    expect(note).to_contain_text("8 rows, filtered")
    assert query(page)["q"] == ["deduped"]

    page.fill("#id_q", "")
    page.press("#id_q", "Enter") if page.javascript else apply(page)
    expect(rows).to_have_count(16)
    expect(note).not_to_contain_text("filtered")
    assert query(page).get("q", [""]) == [""]
    expect(page.locator("#id_q")).to_have_value("")


def test_repeated_changes_do_not_pile_up_in_the_url(page):
    rows = page.locator("table.leaderboard tbody tr")
    page.goto("/leaderboards/zero-shot/")
    expect(rows).to_have_count(16)
    for value, count in [("0", 50), ("1", 16), ("0", 50), ("1", 16)]:
        page.select_option("#id_best_only", value)
        apply(page)
        expect(rows).to_have_count(count)
        assert query(page)["best_only"] == [value]
    assert len(page.url) < 400


def test_the_queue_filters_do_not_pile_up(page):
    page.goto("/queue/")
    form = page.locator("form.filter-bar")
    expect(form).to_be_visible()
    first = form.locator("select").first
    name = first.get_attribute("name")
    options = [o for o in first.locator("option").evaluate_all("os => os.map(o => o.value)") if o]
    for value in options[:2] + [""]:
        first.select_option(value)
        apply(page, "Show")
        expect(page).to_have_url(re.compile(rf"[?&]{name}={value}(&|$)"))
        assert query(page).get(name, [""]) == [value]


def metric_ids(*names: str) -> list[str]:
    from evaluations.models import Metric

    by_name = {str(m): str(m.pk) for m in Metric.objects.select_related("benchmark")}
    return [by_name[name] for name in names]


def choose_metrics(page, ids: list[str]) -> None:
    picker = page.locator("select#id_metric")
    if picker.count():
        picker.select_option(ids)
        return
    for box in page.locator("input[name=metric]").all():
        box.set_checked(box.get_attribute("value") in ids)


def test_the_rows_setting_the_form_shows_is_the_one_applied(page):
    first, second, third = metric_ids("arc_easy acc", "piqa acc", "sciq acc")
    rows = page.locator("#results .table-actions")
    page.goto(f"/rank/?method=mean_rank&metric={first}&metric={second}&metric={third}")
    expect(page.locator("#id_best_only")).to_have_value("0")
    expect(rows).to_contain_text("432 rows")

    page.select_option("#id_best_only", "1")
    apply(page)
    expect(rows).to_contain_text("16 rows")
    expect(page.locator("#id_best_only")).to_have_value("1")
    expect(page.locator("#id_method")).to_have_value("mean_rank")
    assert query(page)["best_only"] == ["1"]


def test_several_metrics_under_single_metric_say_what_is_wrong_or_rank_sensibly(page):
    first, second = metric_ids("arc_easy acc", "piqa acc")
    page.goto(f"/rank/?metric={first}")
    expect(page.locator("#id_method")).to_have_value("")
    expect(page.locator("table.leaderboard")).to_be_visible()

    # The method was left to the form: a second metric ranks by the normalised mean, and the form says so.
    choose_metrics(page, [first, second])
    apply(page)
    expect(page.locator("#id_method option:checked")).to_have_text("automatic: normalised mean")
    expect(page.locator("#results")).to_contain_text("mapped to 0–100")
    assert sorted(query(page)["metric"]) == sorted([first, second])

    # Asked for explicitly, a single-metric ranking of two metrics is refused with the reason, not "choose metrics".
    page.select_option("#id_method", "metric")
    apply(page)
    expect(page.locator("#results [role=alert]")).to_contain_text("takes exactly one metric")
    expect(page.locator("#results")).not_to_contain_text("Choose one or more metrics")
    expect(page.locator("table.leaderboard")).to_have_count(0)


def test_the_weighted_mean_has_a_weight_input_per_metric(page):
    first, second = metric_ids("arc_easy acc", "piqa acc")
    weights = page.locator("fieldset.weights input")
    page.goto(f"/rank/?metric={first}&metric={second}&method=mean")
    expect(weights).to_have_count(0)

    page.select_option("#id_method", "weighted_mean")
    apply(page)
    expect(weights).to_have_count(2)
    expect(page.locator(f"#id_weight_{first}")).to_have_value("1")

    page.fill(f"#id_weight_{first}", "5")
    page.locator(f"#id_weight_{first}").dispatch_event("change") if page.javascript else apply(page)
    expect(page.locator("#results .explanation")).to_contain_text("arc_easy acc (weight 5)")
    assert query(page)[f"weight_{first}"] == ["5"]
    expect(page.locator(f"#id_weight_{first}")).to_have_value("5")

    # The browser refuses a weight out of range; so does the server, naming the weight, when the URL holds one.
    page.fill(f"#id_weight_{first}", "0")
    expect(page.locator(f"#id_weight_{first}:invalid")).to_have_count(1)
    page.goto(f"/rank/?metric={first}&metric={second}&method=weighted_mean&weight_{first}=0")
    expect(page.locator("#results [role=alert]")).to_contain_text("Weight of arc_easy · acc")
    expect(page.locator(f"#id_weight_{first}")).to_have_value("0")

    # Back to the plain mean: the weights no longer count, and their inputs go.
    page.fill(f"#id_weight_{first}", "1")
    page.select_option("#id_method", "mean")
    apply(page)
    expect(weights).to_have_count(0)
    expect(page.locator("#results .explanation")).not_to_contain_text("weight")
