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
