"""The Pareto view in the browser: opened from a leaderboard, drawn, followed to a checkpoint, filtered.

Screenshots go to artifacts/screenshots/ (pareto-1400.png, pareto-390.png).
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
POINTS = "document.querySelector('[data-chart=pareto-chart]').data.map(trace => trace.x.length)"


@pytest.fixture
def context(browser, demo_site):
    context = browser.new_context(base_url=demo_site.url, viewport={"width": 1400, "height": 900})
    yield context
    context.close()


def _chart_drawn(page):
    expect(page.locator("[data-chart=pareto-chart].chart--drawn .scatterlayer .trace")).to_have_count(2)


def test_the_pareto_view_opens_from_a_leaderboard_draws_and_follows_a_point(context):
    page = context.new_page()
    page.goto("/leaderboards/zero-shot/")
    page.get_by_role("link", name="Score against model size").click()
    expect(page).to_have_url(re.compile(r"/leaderboards/zero-shot/pareto/"))
    _chart_drawn(page)
    assert page.evaluate(POINTS) == [16, 7]  # every row, and the frontier
    expect(page.locator(".pareto-table tbody tr")).to_have_count(7)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "pareto-1400.png"), full_page=True)

    # The largest model's frontier point sits alone at the top right: click it.
    point = page.locator("[data-chart=pareto-chart] .scatterlayer .trace").nth(1).locator(".points path").last
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page).to_have_url(re.compile(r"/checkpoints/\d+/$"))
    expect(page.locator("main")).to_contain_text("pythia-v1.1-12b")


def test_a_search_filter_changes_the_points(context):
    page = context.new_page()
    page.goto("/leaderboards/zero-shot/pareto/")
    _chart_drawn(page)
    page.get_by_label("Search").fill("deduped")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"q=deduped"))
    expect(page.locator("#pareto-summary")).to_contain_text("8 ranked rows, filtered")
    _chart_drawn(page)
    assert page.evaluate(POINTS) == [8, 7]  # 1b-deduped is beaten by the smaller 410m-deduped
    expect(page.get_by_label("Search")).to_have_value("deduped")


def test_the_pareto_view_fits_a_phone_and_works_without_javascript(browser, demo_site):
    context = browser.new_context(base_url=demo_site.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto("/leaderboards/zero-shot/pareto/")
    _chart_drawn(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SCREENSHOTS / "pareto-390.png"), full_page=True)
    context.close()

    context = browser.new_context(base_url=demo_site.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/leaderboards/zero-shot/pareto/?q=deduped")
    expect(page.locator(".pareto-table tbody tr")).to_have_count(7)
    expect(page.locator("#pareto-summary")).to_contain_text("8 ranked rows, filtered; 7 on the frontier")
    context.close()
