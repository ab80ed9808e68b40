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
    for box in page.locator("#id_metric input[name=metric]").all():
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
    typed_in = page.locator(f"#id_weight_{first}").element_handle()
    page.locator(f"#id_weight_{first}").dispatch_event("change") if page.javascript else apply(page)
    expect(page.locator("#results .explanation")).to_contain_text("arc_easy acc (weight 5)")
    # The answer also swaps in the settings with new weight inputs (hx-select-oob), which may land after the table:
    # typing into the old input before then would be lost with it.
    if page.javascript:  # (without it the page was loaded anew)
        page.wait_for_function("input => !input.isConnected", arg=typed_in)
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


# The controls researchers know from the Open LLM Leaderboard (issue 11, "What these users expect").


def headers(page) -> list[str]:
    return [text.strip() for text in page.locator("table.leaderboard thead th").all_text_contents()]


def test_typing_in_the_metric_filter_hides_the_other_metrics(page):
    page.goto("/rank/")
    options = page.locator("#id_metric .picker__option")
    expect(options.first).to_be_visible()
    total = options.count()
    assert total >= 19
    if not page.javascript:  # a plain list of checkboxes: the filter box needs JavaScript and is not shown
        expect(page.locator("#id_metric [data-picker-filter]")).to_be_hidden()
        return
    page.locator("#id_metric [data-picker-filter]").fill("winogr")
    expect(page.locator("#id_metric .picker__option:visible")).to_have_count(1)
    expect(page.locator("#id_metric .picker__option:visible")).to_contain_text("winogrande · acc")
    expect(page.locator("#id_metric .picker__option:visible")).to_contain_text("0-shot")
    page.locator("#id_metric [data-picker-filter]").fill("no such metric")
    expect(page.locator("#id_metric .picker__none")).to_be_visible()
    page.locator("#id_metric [data-picker-filter]").fill("")
    expect(page.locator("#id_metric .picker__option:visible")).to_have_count(total)
    # Filtering is not a setting: the page sent no request, so the URL is as it was.
    assert urlsplit(page.url).query == ""


def test_two_metrics_picked_by_checkbox_agree_in_url_form_and_table(page):
    first, second = metric_ids("arc_easy acc", "piqa acc")
    page.goto("/rank/")
    page.locator(f"#id_metric input[value='{first}']").check()
    page.locator(f"#id_metric input[value='{second}']").check()
    apply(page)
    expect(page.locator("table.leaderboard")).to_be_visible()
    expect(page.locator("table.leaderboard thead")).to_contain_text("arc_easy · acc")
    expect(page.locator("table.leaderboard thead")).to_contain_text("piqa · acc")
    expect(page).to_have_url(re.compile(rf"metric={second}"))
    assert sorted(query(page)["metric"]) == sorted([first, second])
    checked = page.locator("#id_metric input:checked").evaluate_all("boxes => boxes.map(b => b.value)")
    assert sorted(checked) == sorted([first, second])
    if not page.javascript:  # after the round trip the chosen metrics come first, and the count says how many
        expect(page.locator("#id_metric .picker__count")).to_contain_text("2 of")
        expect(page.locator("#id_metric .picker__group").first).to_contain_text("Chosen")


def test_hiding_a_column_removes_it_from_table_and_url_and_undo_brings_it_back(page):
    page.goto("/leaderboards/zero-shot/")
    expect(page.locator("table.leaderboard")).to_be_visible()
    assert "Model" in headers(page)
    rows = page.locator("table.leaderboard tbody tr")
    expect(rows).to_have_count(16)

    page.locator("[data-column-chooser] summary").click()
    page.get_by_label("Model", exact=True).uncheck()
    if not page.javascript:
        page.get_by_role("button", name="Show these columns").click()
    expect(page.locator("[data-column-chooser] summary")).to_contain_text("1 hidden")
    assert "Model" not in headers(page)
    assert "model" not in query(page)["columns"]
    assert "step" in query(page)["columns"]
    expect(rows).to_have_count(16)  # the same rows, one column fewer
    expect(page.locator("table.leaderboard tbody tr").first.locator("td")).to_have_count(len(headers(page)))

    if not page.locator("[data-column-chooser][open]").count():
        page.locator("[data-column-chooser] summary").click()
    page.get_by_label("Model", exact=True).check()
    if not page.javascript:
        page.get_by_role("button", name="Show these columns").click()
    expect(page.locator("[data-column-chooser] summary")).not_to_contain_text("hidden")
    assert "Model" in headers(page)
    assert "model" in query(page).get("columns", ["model"])


def test_the_search_answers_as_you_type_and_clearing_it_shows_every_row(page):
    rows = page.locator("table.leaderboard tbody tr")
    page.goto("/leaderboards/zero-shot/")
    expect(rows).to_have_count(16)

    if page.javascript:  # no Enter: the results follow the keys
        page.locator("#id_q").press_sequentially("deduped", delay=30)
    else:
        page.fill("#id_q", "deduped")
        apply(page)
    expect(rows).to_have_count(8)
    expect(page).to_have_url(re.compile(r"[?&]q=deduped(&|$)"))
    expect(page.locator("#id_q")).to_have_value("deduped")

    if page.javascript:
        page.locator("#id_q").press("Control+a")
        page.locator("#id_q").press("Backspace")
    else:
        page.fill("#id_q", "")
        apply(page)
    expect(rows).to_have_count(16)
    expect(page).not_to_have_url(re.compile(r"[?&]q=deduped"))


def test_a_pinned_row_stays_on_top_with_its_rank_while_sorting_and_paging(page):
    pinned = page.locator("table.leaderboard tbody.pinned-rows tr")
    page.goto("/leaderboards/zero-shot/?best_only=0")
    third = page.locator("table.leaderboard tbody:not(.pinned-rows) tr").nth(2)
    expect(third.locator("td.rank")).to_have_text("3")
    training = third.locator("td").nth(3).inner_text()
    third.locator("input.pin-toggle").check()
    apply(page)
    expect(pinned).to_have_count(1)
    expect(pinned.locator("td.rank")).to_have_text("3")
    assert len(query(page)["pin"]) == 1

    # Sorted by step, then on page 2: the pinned row is still the first, with its rank in the ranking.
    page.locator("table.leaderboard thead th a", has_text="Step").click()
    expect(page).to_have_url(re.compile(r"sort="))
    expect(pinned.locator("td.rank")).to_have_text("3")
    page.locator(".pagination a", has_text=re.compile(r"^\s*2\s*$")).first.click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(pinned).to_have_count(1)
    expect(pinned.locator("td.rank")).to_have_text("3")
    expect(pinned.locator("td").nth(3)).to_have_text(training)
    assert "pin" in query(page)
    assert "sort" in query(page)

    # Unpinned, the row goes back to its place only. A click, not uncheck(): with JavaScript the click sends the form
    # and the pinned row is gone before uncheck() could read its box back, and it would wait for the box for ever.
    pinned.locator("input.pin-toggle").click()
    apply(page)
    expect(pinned).to_have_count(0)
    assert "pin" not in query(page)
