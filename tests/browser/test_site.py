"""The site in a real browser: Debian's chromium driven by Playwright against the live test server.

Screenshots of the main pages are written to artifacts/screenshots/ for inspection.
"""

import csv
import io
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from evaluations.models import Evaluation, Training
from tests.browser.conftest import CHROMIUM

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture
def page(browser, demo_site):
    context = browser.new_context(
        base_url=demo_site.url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def ranked_trainings(page) -> list[str]:
    return page.locator("table.leaderboard tbody tr td a[href^='/trainings/']").all_inner_texts()


def test_a_leaderboard_filters_sorts_pages_and_exports(page):
    # Each step waits for what the page then shows, not for a URL or a delay: htmx pushes the URL before it swaps
    # the table in, so a click right after the URL changed could land on the old table and be lost.
    rows = page.locator("table.leaderboard tbody tr")
    ranks = page.locator("table.leaderboard tbody tr td.rank")
    page.goto("/")
    shot(page, "home")
    page.get_by_role("link", name="Zero-shot reasoning").first.click()
    expect(rows).to_have_count(16)
    shot(page, "leaderboard")

    # Every checkpoint instead of the best of each training: 16 × 27 rows, 50 per page.
    page.select_option("#id_best_only", "0")
    expect(rows).to_have_count(50)
    expect(page.get_by_role("link", name="2", exact=True).first).to_be_visible()
    page.get_by_role("link", name="2", exact=True).first.click()
    expect(ranks.first).not_to_have_text("1")
    assert "page=2" in page.url

    # Filter on one model: ranks restart at 1.
    page.select_option("#id_best_only", "1")
    expect(rows).to_have_count(16)
    page.fill("#id_q", "deduped")
    page.press("#id_q", "Enter")
    expect(rows).to_have_count(8)
    trainings = ranked_trainings(page)
    assert all("deduped" in name for name in trainings)
    expect(ranks.first).to_have_text("1")

    # Sort by step, then export exactly this view as CSV.
    page.get_by_role("link", name="Step").click()
    expect(page.get_by_role("link", name="Step")).to_have_attribute("href", re.compile(r"sort=-step"))
    assert "sort=step" in page.url
    trainings = ranked_trainings(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    text = Path(download.value.path()).read_text()
    exported = list(csv.reader(io.StringIO("\n".join(text.splitlines()[1:]))))
    assert exported[0][:4] == ["Rank", "Model", "Training", "Step"]
    assert [row[2] for row in exported[1:]] == trainings
    assert '"best_checkpoint_only": true' in text.splitlines()[0]


def test_comparing_two_checkpoints_from_the_leaderboard(page):
    page.goto("/leaderboards/zero-shot/")
    boxes = page.locator("input[name=checkpoint]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url("**/compare/**")
    assert page.locator("table.compare thead th").count() == 3
    page.locator(".chart.chart--drawn").first.wait_for()
    shot(page, "compare")


def test_a_training_page_draws_its_chart(page):
    training = Training.objects.get(name="pythia-v1.1-1.4b-deduped")
    page.goto(training.get_absolute_url())
    chart = page.locator(".chart.chart--drawn")
    # One panel per chosen metric (the four primary ones), each titled above it, the training's best step starred.
    chart.locator(".annotation-text").nth(3).wait_for()
    titles = chart.locator(".annotation-text").all_text_contents()
    assert len(titles) == 4
    assert titles[:2] == ["arc_challenge · acc", "arc_easy · acc"]
    assert chart.locator(".cartesianlayer .subplot").count() == 4
    # Line markers are circles (SVG arcs); the stars are the only other points.
    stars = chart.locator("path.point").evaluate_all("points => points.filter(p => !p.getAttribute('d').includes('A'))")
    assert len(stars) == 4
    y_titles = chart.locator(".g-ytitle, .g-y2title, .g-y3title, .g-y4title").all_text_contents()
    assert sum("axis reversed" in title for title in y_titles) == 1  # crows_pairs likelihood difference
    shot(page, "training")


def test_a_signed_in_user_requests_an_evaluation(page):
    user = get_user_model().objects.create_user("researcher", password="a-long-test-password")
    user.user_permissions.add(Permission.objects.get(codename="add_evaluation"))
    training = Training.objects.get(name="pythia-v1.1-160m")
    checkpoint = training.checkpoints.order_by("-step").first()
    page.goto("/accounts/login/")
    page.fill("#id_username", "researcher")
    page.fill("#id_password", "a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/evaluations/request/?checkpoint={checkpoint.pk}")
    shot(page, "request")
    page.locator("input[name=benchmarks]").first.check()
    page.get_by_role("button", name="Request").click()
    page.wait_for_url("**/queue/**")
    shot(page, "queue")
    requested = Evaluation.objects.filter(checkpoint=checkpoint, status="pending", requested_by=user)
    assert requested.count() == 1
    requested.delete()
    user.delete()
