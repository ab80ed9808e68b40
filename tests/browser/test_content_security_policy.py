"""In a real browser under the Content Security Policy: charts, Swagger UI and Redoc work, and nothing is blocked."""

import shutil

import pytest

from tests import factories

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"),
    pytest.mark.django_db(transaction=True),
]

# Reports every violation to the console, where the page fixture collects it.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.violations = []
    page.on("console", lambda message: "CSP violation" in message.text and page.violations.append(message.text))
    yield page
    context.close()


def test_a_training_chart_draws_and_downloads_as_png_without_violations(page):
    acc = factories.metric(benchmark=factories.benchmark(slug="arc_easy"), key="acc")
    for step, value in [(1000, 0.31), (2000, 0.42), (3000, 0.47)]:
        score = factories.score(metric=acc, value=value, training="run-1", step=step)
    page.goto(score.evaluation.checkpoint.training.get_absolute_url())

    page.locator(".chart.chart--drawn .main-svg").first.wait_for()
    # plotly's "download plot as PNG" draws the chart through a blob: image.
    image = page.evaluate(
        "() => Plotly.toImage(document.querySelector('.chart--drawn'), {format: 'png', width: 400, height: 300})"
    )

    assert image.startswith("data:image/png;base64,")
    # plotly's own styles (an inline <style> element) applied: its mode bar is hidden until hovered.
    assert not page.locator(".chart--drawn .modebar-container").first.is_visible()
    assert page.violations == []


def test_swagger_ui_lists_the_api_without_violations(page):
    page.goto("/api/docs/")

    page.locator(".opblock").first.wait_for()

    assert page.locator(".opblock").count() > 10
    assert page.violations == []


def test_redoc_lists_and_searches_the_api_without_violations(page):
    page.goto("/api/redoc/")
    page.locator(".api-content").wait_for()

    # Search runs in a Web Worker started from a blob: URL, which only this page's policy allows.
    page.get_by_placeholder("Search...").fill("claim")
    results = page.locator("[data-role='search:results'] li")
    results.first.wait_for()

    # The claim operation first; others whose descriptions mention claiming (the heartbeat) may follow.
    assert [text.lower() for text in results.all_inner_texts()][0] == "post\nevaluations_claim_create"
    # Redoc's "API docs by Redocly" logo comes from its CDN: blocked, and Redoc hides it itself.
    assert [v for v in page.violations if "cdn.redoc.ly" not in v] == []
