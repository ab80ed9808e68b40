"""The leaderboard's select-all box: with JavaScript it checks every row's compare box; without, it is not there."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


def new_page(browser, demo_site, *, javascript: bool = True):
    context = browser.new_context(
        base_url=demo_site.url, viewport={"width": 1400, "height": 900}, java_script_enabled=javascript
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def test_the_header_box_selects_and_deselects_every_row(browser, demo_site):
    page = new_page(browser, demo_site)
    page.goto("/leaderboards/zero-shot/")
    boxes = page.locator("table.leaderboard tbody input[name=checkpoint]")
    select_all = page.get_by_role("checkbox", name="Select every row of this page for comparison")
    expect(boxes).to_have_count(16)
    select_all.check()
    for index in range(16):
        expect(boxes.nth(index)).to_be_checked()
    select_all.uncheck()
    for index in range(16):
        expect(boxes.nth(index)).not_to_be_checked()
    # One row by hand leaves the header half-checked; all of them checks it.
    boxes.nth(0).check()
    assert select_all.evaluate("box => box.indeterminate") is True
    page.context.close()


def test_the_header_box_works_on_a_table_htmx_swapped_in(browser, demo_site):
    page = new_page(browser, demo_site)
    page.goto("/leaderboards/zero-shot/")
    rows = page.locator("table.leaderboard tbody tr")
    page.select_option("#id_best_only", "0")
    expect(rows).to_have_count(50)
    page.get_by_role("checkbox", name="Select every row of this page for comparison").check()
    expect(page.locator("table.leaderboard tbody input[name=checkpoint]:checked")).to_have_count(50)
    page.context.close()


def test_without_javascript_there_is_no_box_that_does_nothing(browser, demo_site):
    page = new_page(browser, demo_site, javascript=False)
    page.goto("/leaderboards/zero-shot/")
    expect(page.locator("table.leaderboard tbody input[name=checkpoint]")).to_have_count(16)
    expect(page.locator("input.select-all")).to_be_hidden()
    expect(page.locator("table.leaderboard thead")).to_contain_text("Compare")
    page.context.close()
