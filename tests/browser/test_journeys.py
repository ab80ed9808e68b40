"""The journeys a researcher makes, end to end in a real browser, with JavaScript on and off.

After each step the URL, the form and the table must tell the same story: the URL is what a colleague gets when
the link is shared, the form is what the user thinks they asked for, and the table is what they get.
"""

import csv
import io
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")

ROWS = "table.leaderboard > tbody:not(.pinned-rows) > tr"


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def page(request, browser, demo_site):
    context = browser.new_context(
        base_url=demo_site.url, viewport={"width": 1400, "height": 900}, java_script_enabled=request.param
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.javascript = request.param
    yield page
    context.close()


def metric_ids(*names: str) -> dict[str, str]:
    from evaluations.models import Metric

    by_name = {str(m): str(m.pk) for m in Metric.objects.select_related("benchmark")}
    return {name: by_name[name] for name in names}


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def apply(page) -> None:
    """With JavaScript a change sends the form; without it the user presses Apply."""
    if not page.javascript:
        page.get_by_role("button", name="Apply").click()


def headers(page) -> str:
    return " | ".join(page.locator("table.leaderboard thead th").all_inner_texts())


def show(page) -> None:
    """The training page's chart controls are a plain GET form."""
    page.locator("form.controls button[type=submit]").click()


def agree(page, metrics: dict[str, str], *, method: str, score: str) -> None:
    """The URL, the form and the table all show `metrics` ranked by `method`, the score column named `score`.

    The table is waited for first: htmx pushes the URL before it swaps the table in, so once the table shows the
    state the URL already does (with JavaScript every tick sends the form, and only the last answer counts).
    """
    thead = page.locator("table.leaderboard thead")
    expect(thead).to_contain_text(score)
    for name in metrics:
        expect(thead).to_contain_text(name.replace(" ", " · "))
    assert sorted(query(page)["metric"]) == sorted(metrics.values())
    assert query(page).get("method", [""]) == [method]
    expect(page.locator("#id_method")).to_have_value(method)
    checked = page.locator("#id_metric input:checked").evaluate_all("boxes => boxes.map(b => b.value)")
    assert sorted(checked) == sorted(metrics.values())


def test_pick_rank_weigh_deselect_filter_sort_page_export_and_compare_three(page):
    chosen = metric_ids("arc_easy acc", "piqa acc", "sciq acc")
    rows = page.locator(ROWS)
    page.goto("/rank/")

    # Pick three metrics: the method left to the form ranks them by the normalised mean, and says so.
    for pk in chosen.values():
        page.locator(f"#id_metric input[value='{pk}']").check()
    apply(page)
    expect(page.locator("#id_method option:checked")).to_have_text("automatic: normalised mean")
    agree(page, chosen, method="", score="Normalised mean")
    expect(page.locator("#id_best_only")).to_have_value("0")
    expect(page.locator("#results .table-actions")).to_contain_text("432 rows")

    # The best checkpoint of each training only.
    page.select_option("#id_best_only", "1")
    apply(page)
    expect(rows).to_have_count(16)
    assert query(page)["best_only"] == ["1"]

    # The plain mean, then the weighted mean with arc_easy counted three times.
    page.select_option("#id_method", "mean")
    apply(page)
    agree(page, chosen, method="mean", score="Mean")
    page.select_option("#id_method", "weighted_mean")
    apply(page)
    arc = chosen["arc_easy acc"]
    expect(page.locator(f"#id_weight_{arc}")).to_have_value("1")
    page.fill(f"#id_weight_{arc}", "3")
    typed_in = page.locator(f"#id_weight_{arc}").element_handle()
    page.locator(f"#id_weight_{arc}").dispatch_event("change") if page.javascript else apply(page)
    expect(page.locator("#results .explanation")).to_contain_text("arc_easy acc (weight 3)")
    if page.javascript:  # the settings htmx swaps in after the table (hx-select-oob) have replaced the weight inputs
        page.wait_for_function("input => !input.isConnected", arg=typed_in)
    agree(page, chosen, method="weighted_mean", score="Weighted mean")
    assert query(page)[f"weight_{arc}"] == ["3"]

    # Deselect sciq: its column, its URL parameter and its weight input go.
    page.locator(f"#id_metric input[value='{chosen['sciq acc']}']").uncheck()
    apply(page)
    del chosen["sciq acc"]
    expect(page.locator("table.leaderboard thead")).not_to_contain_text("sciq")
    expect(page.locator("fieldset.weights input")).to_have_count(2)
    agree(page, chosen, method="weighted_mean", score="Weighted mean")
    expect(page.locator(f"#id_weight_{arc}")).to_have_value("3")

    # Filter by name, then clear the filter: every row is back and nothing says "filtered".
    note = page.locator("#results .table-actions")
    page.fill("#id_q", "deduped")
    page.press("#id_q", "Enter") if page.javascript else apply(page)
    expect(rows).to_have_count(8)
    expect(note).to_contain_text("8 rows, filtered")
    assert query(page)["q"] == ["deduped"]
    page.fill("#id_q", "")
    page.press("#id_q", "Enter") if page.javascript else apply(page)
    expect(rows).to_have_count(16)
    expect(note).not_to_contain_text("filtered")
    agree(page, chosen, method="weighted_mean", score="Weighted mean")

    # Sort by the score: the first click shows the best first, the second the worst first.
    page.locator("table.leaderboard thead th.score a").click()
    expect(page.locator(f"{ROWS} td.rank").first).to_have_text("1")
    assert query(page)["sort"] == ["score"]
    page.locator("table.leaderboard thead th.score a").click()
    expect(page.locator(f"{ROWS} td.rank").first).to_have_text("16")
    agree(page, chosen, method="weighted_mean", score="Weighted mean")

    # Every checkpoint, 50 a page; page 2 starts at rank 51 (ranked by the score again).
    page.locator("table.leaderboard thead th.rank a").click()
    expect(page.locator(f"{ROWS} td.rank").first).to_have_text("1")
    page.select_option("#id_best_only", "0")
    apply(page)
    expect(rows).to_have_count(50)
    page.get_by_role("link", name="2", exact=True).first.click()
    expect(page.locator(f"{ROWS} td.rank").first).to_have_text("51")
    assert query(page)["page"] == ["2"]
    expect(page.locator("#id_best_only")).to_have_value("0")
    agree(page, chosen, method="weighted_mean", score="Weighted mean")

    # The CSV export is this view: its header first, every checkpoint, ranked by the same weighted mean.
    href = page.get_by_role("link", name="CSV").get_attribute("href")
    exported = list(csv.reader(io.StringIO(page.request.get(urljoin(page.url, href)).text())))
    assert exported[0][:4] == ["Rank", "Model", "Training", "Step"]
    assert "arc_easy acc stderr" in exported[0]
    assert len(exported) == 1 + 432
    settings_href = page.get_by_role("link", name="Settings (JSON)").get_attribute("href")
    ranking = page.request.get(urljoin(page.url, settings_href)).json()["ranking"]
    assert ranking["method"] == "weighted_mean"
    assert {m["benchmark"]: m["weight"] for m in ranking["metrics"]} == {"arc_easy": 3, "piqa": 1}

    # Compare three checkpoints of this page.
    boxes = page.locator(f"{ROWS} input[name=checkpoint]")
    picked = [boxes.nth(i).get_attribute("value") for i in range(3)]
    for i in range(3):
        boxes.nth(i).check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page).to_have_url(re.compile(r"/compare/"))
    assert sorted(query(page)["checkpoint"]) == sorted(picked)
    expect(page.locator("table.compare thead th")).to_have_count(4)  # the metric, then one column per checkpoint


def test_open_a_training_switch_to_the_log_axis_overlay_and_select_for_deployment(browser, demo_site):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from evaluations.models import Training
    from rankings.models import DeploymentSelection

    user = get_user_model().objects.create_user("journey-deployer", password="a-long-test-password")
    user.user_permissions.add(Permission.objects.get(codename="add_deploymentselection"))
    training = Training.objects.get(name="pythia-v1.1-1.4b-deduped")
    context = browser.new_context(base_url=demo_site.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "a-long-test-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_attached()

        # From the leaderboard to the training.
        page.goto("/leaderboards/zero-shot/")
        page.locator(ROWS).locator(f"td.name a[title='{training.name}']").click()
        expect(page.locator("h1")).to_contain_text(training.name)

        # Steps from 0 to 143,000 span orders of magnitude: the log axis is the default; linear and back.
        expect(page.locator("input[name=steps][value=log]")).to_be_checked()
        page.locator("input[name=steps][value=linear]").check()
        show(page)
        expect(page.locator("input[name=steps][value=linear]")).to_be_checked()
        assert query(page)["steps"] == ["linear"]
        page.locator("input[name=steps][value=log]").check()
        show(page)
        expect(page.locator("input[name=steps][value=log]")).to_be_checked()
        assert query(page)["steps"] == ["log"]

        # Overlay another training: its name joins the legend.
        other = Training.objects.exclude(model=training.model).order_by("name").first()
        page.locator(f"#id_overlay_training input[value='{other.pk}']").check()
        show(page)
        assert query(page)["overlay_training"] == [str(other.pk)]
        expect(page.locator(".js-plotly-plot .legend")).to_contain_text(other.name)

        # Select the suggested checkpoint for deployment: the page then names it as the model's selection.
        button = page.get_by_role("button", name=re.compile(r"Select step .* for deployment"))
        step = re.search(r"step ([\d,]+)", button.inner_text()).group(1)
        button.click()
        deployment = page.locator("section[aria-labelledby=deployment-heading]")
        expect(deployment).to_contain_text(f"Selected for {training.model.name}")
        expect(deployment).to_contain_text(f"step {step}")
        selection = DeploymentSelection.objects.filter(model=training.model).latest("pk")
        assert f"{selection.checkpoint.step:,}" == step
    finally:
        context.close()
        DeploymentSelection.objects.filter(model=training.model).delete()
        user.delete()
