"""The request form's checkpoint picker: a training first, then its steps, with and without JavaScript."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from evaluations.models import Evaluation, Training
from tests.browser.conftest import CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture
def researcher(demo_site):
    user = get_user_model().objects.create_user("picker", password="a-long-test-password")
    user.user_permissions.add(Permission.objects.get(codename="add_evaluation"))
    yield user
    Evaluation.objects.filter(requested_by=user).delete()
    user.delete()


@pytest.mark.parametrize("javascript", [True, False])
def test_choosing_a_training_then_one_of_its_steps(browser, demo_site, researcher, javascript):
    context = browser.new_context(base_url=demo_site.url, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/accounts/login/")
    page.fill("#id_username", "picker")
    page.fill("#id_password", "a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.goto("/evaluations/request/")
    expect(page.locator("select[name=checkpoint]")).to_have_count(0)

    training = Training.objects.get(name="pythia-v1.1-160m")
    page.get_by_label("Training").select_option(str(training.pk))
    page.get_by_role("button", name="Show its checkpoints").click()
    picker = page.get_by_label("Checkpoint of pythia-v1.1-160m")
    expect(picker).to_be_visible()
    steps = list(training.checkpoints.order_by("step").values_list("step", flat=True))
    options = picker.locator("option:not([value=''])")
    expect(options).to_have_count(len(steps))
    labels = options.all_inner_texts()
    assert [int(re.search(r"step ([\d,]+)", label).group(1).replace(",", "")) for label in labels] == steps

    checkpoint = training.checkpoints.get(step=steps[-1])
    picker.select_option(str(checkpoint.pk))
    page.locator("input[name=benchmarks]").first.check()
    page.get_by_role("button", name="Request", exact=True).click()
    page.wait_for_url("**/queue/**")
    assert Evaluation.objects.filter(checkpoint=checkpoint, requested_by=researcher, status="pending").count() == 1
    context.close()
