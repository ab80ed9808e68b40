"""Every page reachable from the home page fits the window at 1400 and at 390 px: nothing scrolls sideways.

Wide tables scroll inside their own container instead. Full-page screenshots of every page at both sizes are
written to artifacts/screenshots/<page>-<width>.png for inspection.
"""

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from playwright.sync_api import expect

from evaluations.models import Benchmark, Checkpoint, Metric, Training
from rankings.models import Leaderboard
from tests.browser.conftest import CHROMIUM

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WIDTHS = (1400, 390)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


def pages() -> dict[str, str]:
    """Every kind of page the home page leads to, by a short name for its screenshot."""
    metrics = "&".join(f"metric={m.pk}" for m in Metric.objects.filter(is_primary=True).order_by("pk")[:4])
    training = Training.objects.get(name="pythia-v1.1-1.4b-deduped")
    first, second, third = Checkpoint.objects.filter(training__name__startswith="pythia-v1.1-1").order_by("pk")[:3]
    found = {
        "home": "/",
        "leaderboards": reverse("rankings:leaderboards"),
        "ranking": f"{reverse('rankings:ranking')}?method=mean&{metrics}",
        "across": f"{reverse('rankings:across')}?method=mean&{metrics}",
        "training": training.get_absolute_url(),
        "checkpoint": training.checkpoints.order_by("-step").first().get_absolute_url(),
        "compare": f"{reverse('rankings:compare')}?checkpoint={first.pk}&checkpoint={second.pk}&checkpoint={third.pk}",
        "model": training.model.get_absolute_url(),
        "benchmarks": reverse("evaluations:benchmarks"),
        "benchmark": Benchmark.objects.order_by("pk").first().get_absolute_url(),
        "queue": reverse("evaluations:queue"),
        "coverage": reverse("evaluations:coverage"),
        "docs": reverse("rankings:docs"),
        "login": reverse("login"),
        "api-docs": "/api/docs/",
        "api-redoc": "/api/redoc/",
    }
    for board in Leaderboard.objects.order_by("slug"):
        found[f"leaderboard-{board.slug}"] = board.get_absolute_url()
        found[f"progress-{board.slug}"] = reverse("rankings:progress", args=[board.slug])
    return found


def overflow(page, width: int) -> int:
    """How many pixels the page is wider than the window (0 when it fits)."""
    return page.evaluate("() => document.documentElement.scrollWidth") - width


@pytest.fixture
def researcher():
    user = get_user_model().objects.create_user("layout-researcher", password="a-long-test-password")
    user.user_permissions.add(Permission.objects.get(codename="add_evaluation"))
    yield user
    user.delete()


def visit(browser, base_url: str, width: int, named: dict[str, str], *, sign_in=None) -> dict[str, int]:
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    if sign_in:
        page.goto(reverse("login"))
        page.fill("#id_username", sign_in)
        page.fill("#id_password", "a-long-test-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_attached()
    too_wide = {}
    try:
        for name, url in named.items():
            response = page.goto(url)
            assert response.ok, (name, url, response.status)
            page.wait_for_load_state("load")
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
            if (extra := overflow(page, width)) > 0:
                too_wide[name] = extra
    finally:
        context.close()
    return too_wide


# Slow (a minute: two full-page screenshots of some twenty pages); CI runs it.
@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways(browser, demo_site, width):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert visit(browser, demo_site.url, width, pages()) == {}


@pytest.mark.parametrize("width", WIDTHS)
def test_the_request_form_fits_the_window(browser, demo_site, researcher, width):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    named = {"request": reverse("evaluations:request")}
    assert visit(browser, demo_site.url, width, named, sign_in=researcher.username) == {}


def _page(browser, base_url: str, width: int):
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


# Where each cell is, relative to the visible part of its table's scroll box (left, right), after scrolling the box
# to its right end; and whether the box had anything to scroll.
KEPT_IN_VIEW = """([box, selectors]) => {
  const wrap = document.querySelector(box);
  const row = wrap.querySelector("tbody tr");
  const scrollable = wrap.scrollWidth > wrap.clientWidth;
  wrap.scrollLeft = wrap.scrollWidth;
  const shown = wrap.getBoundingClientRect();
  const cells = selectors.map((s) => row.querySelector(s).getBoundingClientRect());
  return {scrollable, scrolled: wrap.scrollLeft > 0,
          cells: cells.map((r) => [Math.round(r.left - shown.left), Math.round(shown.right - r.right)])};
}"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("name", "box", "kept"),
    [
        ("leaderboard-zero-shot", "#results .table-wrap", ["td.rank", "td.name", "td.score"]),
        ("training", "#checkpoints-heading + .table-wrap", ["td.sticky", "th.sticky-2"]),
        ("across", "#ranks-heading ~ .table-wrap", ["th.sticky"]),
        ("compare", "#compare-heading ~ .table-wrap", ["th.sticky"]),
    ],
)
def test_the_rank_name_and_score_stay_in_view_while_a_wide_table_scrolls(browser, demo_site, width, name, box, kept):
    context, page = _page(browser, demo_site.url, width)
    try:
        url = pages()[name].replace("?method=mean&", "?method=mean&best_only=1&")
        page.goto(url)
        seen = page.evaluate(KEPT_IN_VIEW, [box, kept])
    finally:
        context.close()
    if width == 390:
        assert seen["scrollable"], "the table fits a phone: nothing to keep in view"
        assert seen["scrolled"]
    # Each kept cell is wholly inside the visible part of the box, however far it scrolled.
    assert all(left >= -1 and right >= -1 for left, right in seen["cells"]), seen


def test_a_phone_shows_the_score_of_the_leaderboard_without_scrolling(browser, demo_site):
    context, page = _page(browser, demo_site.url, 390)
    try:
        page.goto(pages()["leaderboard-zero-shot"])
        score = page.locator("#results tbody tr").first.locator("td.score")
        expect(score).to_have_text(re.compile(r"\d"))
        left, right = score.evaluate(
            "(cell) => [cell.getBoundingClientRect().left, cell.getBoundingClientRect().right]"
        )
    finally:
        context.close()
    assert 0 <= left < right <= 390


# The widest choice of each single select, measured in the select's own font, must fit in the select beside its
# arrow: a native select cannot wrap, and cut its text off ("best checkpoint of each trai").
WIDEST_CHOICES = """() => [...document.querySelectorAll("form.controls select:not([multiple])")].map((select) => {
  const context = document.createElement("canvas").getContext("2d");
  context.font = getComputedStyle(select).font;
  const widest = Math.max(...[...select.options].map((o) => context.measureText(o.text).width));
  return [select.name, Math.ceil(widest), select.clientWidth, select.scrollWidth];
})"""
ARROW = 24  # px Chromium keeps for the select's arrow and its padding


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["leaderboard-zero-shot", "ranking", "across"])
def test_the_ranking_forms_selects_show_their_whole_choice(browser, demo_site, width, name):
    context, page = _page(browser, demo_site.url, width)
    try:
        page.goto(pages()[name])
        selects = page.evaluate(WIDEST_CHOICES)
    finally:
        context.close()
    assert "best_only" in {select for select, *_ in selects}
    clipped = [s for s, widest, client, scroll in selects if widest + ARROW > client or scroll > client]
    assert clipped == [], selects


@pytest.mark.parametrize("width", WIDTHS)
def test_the_queue_and_its_table_stay_in_the_page_column(browser, demo_site, width):
    context, page = _page(browser, demo_site.url, width)
    try:
        page.goto(pages()["queue"])
        expect(page.get_by_text("The queue holds")).to_be_visible()
        edges = page.evaluate(
            """() => [document.querySelector("main .page-header"), document.querySelector("#results .table-wrap"),
                      document.querySelector("#results .results-count")].map((e) => {
              const r = e.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.right)]; })"""
        )
    finally:
        context.close()
    (left, right), *inside = edges
    assert all(start >= left and end <= right for start, end in inside), edges
