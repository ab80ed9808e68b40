"""The training page's chart controls in the browser: the log step axis and back, smoothing, and a second training
overlaid, with the URL, the form and the drawn chart agreeing after each step (issue 11, defect 4); and the model
page's chart of its trainings.

Screenshots go to artifacts/screenshots/ (training-charts-*.png, model-results-*.png).
"""

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from evaluations.models import Training

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHART = "[data-chart=training-chart]"


@pytest.fixture
def context(browser, demo_site):
    context = browser.new_context(base_url=demo_site.url, viewport={"width": 1400, "height": 900})
    yield context
    context.close()


def drawn(page, selector: str = CHART) -> dict:
    """What plotly drew: the step axis type, the legend entries, and how many traces are faint (raw under smoothing)."""
    expect(page.locator(f"{selector}.chart--drawn .scatterlayer .trace").first).to_be_attached()
    return page.evaluate(
        """selector => {
            const chart = document.querySelector(selector);
            return {
                axis: chart._fullLayout.xaxis.type,
                legend: chart._fullData.filter(t => t.showlegend).map(t => t.name),
                faint: chart._fullData.filter(t => t.opacity < 1).length,
                // Colours drawn per legend entry, over every panel: lines, markers and stars.
                colours: Object.values(chart._fullData.reduce((seen, t) => {
                    seen[t.legendgroup] ||= new Set();
                    if (t.mode.includes("markers")) seen[t.legendgroup].add(t.marker.color);
                    if (t.mode.includes("lines")) seen[t.legendgroup].add(t.line.color);
                    return seen;
                }, {})).map(colours => colours.size),
            };
        }""",
        selector,
    )


def query(page) -> dict:
    return parse_qs(urlsplit(page.url).query)


def test_log_axis_and_back_smoothing_and_an_overlay_keep_url_form_and_chart_in_step(context):
    training = Training.objects.get(name="pythia-v1.1-1.4b")
    other = Training.objects.get(name="pythia-v1.1-70m")
    page = context.new_page()
    page.goto(training.get_absolute_url())
    # Pythia's steps run from 0 to 143,000: the log axis is the default, and the form says so.
    assert drawn(page)["axis"] == "log"
    expect(page.get_by_label("log", exact=True)).to_be_checked()
    expect(page.locator("main")).to_contain_text("step 0 is drawn at half the first positive step")

    page.get_by_label("linear", exact=True).check()
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"steps=linear"))
    assert drawn(page)["axis"] == "linear"
    expect(page.get_by_label("linear", exact=True)).to_be_checked()

    page.get_by_label("log", exact=True).check()
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"steps=log"))
    assert drawn(page)["axis"] == "log"

    page.get_by_label("Smoothing").fill("0.6")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"smooth=0.6"))
    chart = drawn(page)
    assert chart["faint"] == 4  # the raw line of the one training, in each of its 4 panels
    assert chart["legend"] == ["pythia-v1.1-1.4b"]
    expect(page.get_by_label("Smoothing")).to_have_value("0.6")

    page.locator(f"#id_overlay_training input[value='{other.pk}']").check()
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"overlay_training={other.pk}"))
    chart = drawn(page)
    assert chart["legend"] == ["pythia-v1.1-1.4b", "pythia-v1.1-70m"]
    assert (chart["axis"], chart["faint"]) == ("log", 8)
    assert chart["colours"] == [1, 1]  # one colour per training in all four panels, as its legend entry shows
    assert query(page)["smooth"] == ["0.6"]
    assert query(page)["steps"] == ["log"]
    expect(page.get_by_label("Smoothing")).to_have_value("0.6")
    selected = page.locator("#id_overlay_training input:checked").evaluate_all("boxes => boxes.map(b => b.value)")
    assert selected == [str(other.pk)]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "training-charts-1400.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    drawn(page)
    page.screenshot(path=str(SCREENSHOTS / "training-charts-390.png"), full_page=True)


def test_colour_by_model_size_names_the_sizes_in_the_legend(context):
    training = Training.objects.get(name="pythia-v1.1-1.4b")
    other = Training.objects.get(name="pythia-v1.1-70m")
    page = context.new_page()
    page.goto(f"{training.get_absolute_url()}?overlay=1&overlay_training={other.pk}")
    page.get_by_label("Colour by").select_option("size")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"colour_by=size"))
    assert drawn(page)["legend"] == ["1.4B parameters", "70M parameters"]
    expect(page.locator(f"{CHART} .legendtitletext")).to_have_text("colour: model size")


def test_the_model_page_charts_its_trainings_side_by_side(context):
    model = Training.objects.get(name="pythia-v1.1-1.4b").model
    page = context.new_page()
    page.goto(model.get_absolute_url())
    expect(page.locator("table.model-results tbody tr")).to_have_count(2)
    chart = drawn(page, "[data-chart=model-chart]")
    assert chart["legend"] == ["pythia-v1.1-1.4b", "pythia-v1.1-1.4b-deduped"]
    assert chart["axis"] == "log"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "model-results-1400.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    drawn(page, "[data-chart=model-chart]")
    page.screenshot(path=str(SCREENSHOTS / "model-results-390.png"), full_page=True)
