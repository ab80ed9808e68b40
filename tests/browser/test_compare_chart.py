"""The compare page in the browser: a panel per primary metric, the legend clear of the panels and their titles, no
best for the metric of unknown direction, deltas worded (issue 11, defect 9).

Screenshots go to artifacts/screenshots/ (compare-chart-1400.png, compare-chart-390.png).
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from evaluations.models import Checkpoint

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def context(browser, demo_site):
    context = browser.new_context(base_url=demo_site.url, viewport={"width": 1400, "height": 900})
    yield context
    context.close()


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("width", [1400, 390])
def test_compare_draws_a_panel_per_metric_with_the_legend_clear_of_them(context, width):
    first = Checkpoint.objects.get(training__name="pythia-v1.1-1.4b", step=0)
    second = Checkpoint.objects.get(training__name="pythia-v1.1-1.4b", step=143000)
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/compare/?checkpoint={first.pk}&checkpoint={second.pk}")
    chart = page.locator("[data-chart=compare-chart].chart--drawn")
    expect(chart.locator(".legend .traces")).to_have_count(2)
    panels = chart.locator(".cartesianlayer .subplot")
    assert panels.count() == chart.locator(".annotation").count() >= 6
    legend = chart.locator(".legend").bounding_box()
    boxes = [panels.nth(i).bounding_box() for i in range(panels.count())]
    titles = [chart.locator(".annotation").nth(i).bounding_box() for i in range(chart.locator(".annotation").count())]
    assert [box for box in boxes + titles if overlaps(legend, box)] == []
    # Titles of neighbouring panels do not run into each other.
    assert [(a, b) for i, a in enumerate(titles) for b in titles[i + 1 :] if overlaps(a, b)] == []

    row = page.locator("table.compare tbody tr", has_text="pct_stereotype")
    expect(row.locator("td.best")).to_have_count(0)
    expect(page.locator("table.compare .delta--better").first).to_contain_text("better")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"compare-chart-{width}.png"), full_page=True)
