"""One task at two few-shot counts or versions: every header, picker and export says which, and the page warns."""

import csv
import html
import io
import json
import re

import pytest
from django.urls import reverse

from evaluations.models import Checkpoint
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def arc():
    """arc_easy at 0-shot and 5-shot, and piqa at one setting only."""
    zero = factories.metric(
        benchmark=factories.benchmark(slug="arc_easy", name="ARC (Easy)"), key="acc", lower_bound=0, upper_bound=1
    )
    five = factories.metric(
        benchmark=factories.benchmark(slug="arc_easy", name="ARC (Easy)", num_fewshot=5),
        key="acc",
        lower_bound=0,
        upper_bound=1,
    )
    piqa = factories.metric(
        benchmark=factories.benchmark(slug="piqa", name="PIQA"), key="acc", lower_bound=0, upper_bound=1
    )
    for training, values in {"run-a": (0.5, 0.6, 0.7), "run-b": (0.4, 0.65, 0.75)}.items():
        checkpoint = factories.checkpoint(training=factories.training(name=training))
        for metric, value in zip((zero, five, piqa), values, strict=True):
            factories.score(metric=metric, value=value, checkpoint_obj=checkpoint)
    return {"zero": zero, "five": five, "piqa": piqa}


def texts(pattern: str, content: bytes) -> list[str]:
    """The visible text of each match of `pattern`'s first group, tags removed and spaces collapsed."""
    found = re.findall(pattern, content.decode(), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split()) for part in found]


def page(client, *metrics, **params):
    response = client.get(reverse("rankings:ranking"), {"metric": [m.pk for m in metrics], **params})
    assert response.status_code == 200
    return response


def headers(response) -> list[str]:
    thead = re.search(
        r'<table[^>]*class="[^"]*leaderboard.*?<thead\b[^>]*>(.*?)</thead>', response.content.decode(), re.S
    )
    return texts(r"<th\b[^>]*>(.*?)</th>", thead.group(1).encode())


def warning(response) -> str | None:
    found = texts(r'<div class="message message--warning settings-warning"[^>]*>(.*?)</div>', response.content)
    return found[0] if found else None


def test_columns_of_one_task_at_two_few_shot_counts_say_which_and_the_page_warns(client, arc):
    response = page(client, arc["zero"], arc["five"], arc["piqa"])

    assert {"ARC (Easy) 0-shot · acc ↑", "ARC (Easy) 5-shot · acc ↑", "PIQA · acc ↑"} <= set(headers(response))
    assert "combines different settings of the same task" in warning(response)
    assert "arc_easy is included at few-shot counts 0, 5" in warning(response)


def test_a_task_at_one_setting_keeps_its_short_name_and_no_warning(client, arc):
    response = page(client, arc["five"], arc["piqa"])

    assert {"ARC (Easy) · acc ↑", "PIQA · acc ↑"} <= set(headers(response))
    assert warning(response) is None


def test_versions_are_told_apart_too(client):
    old = factories.metric(benchmark=factories.benchmark(slug="gsm8k", name="GSM8K", version="2"), key="em")
    new = factories.metric(benchmark=factories.benchmark(slug="gsm8k", name="GSM8K", version="3"), key="em")
    factories.score(metric=old, value=0.2, training="run")
    factories.score(metric=new, value=0.3, training="run")

    response = page(client, old, new)

    assert {"GSM8K v2 · em ↑", "GSM8K v3 · em ↑"} <= set(headers(response))
    assert "versions 2, 3" in warning(response)


def test_the_metric_picker_names_each_setting(client, arc):
    response = page(client, arc["piqa"])

    picker = re.search(r'<div class="picker" id="id_metric".*?picker__none', response.content.decode(), re.S).group(0)
    options = [
        " ".join(re.sub(r"<[^>]+>", " ", text).split()) for text in texts(r"<label[^>]*>(.*?)</label>", picker.encode())
    ]
    # Every option shows its few-shot count (and version where there is one), not only where two settings meet.
    assert {"ARC (Easy) · acc 0-shot", "ARC (Easy) · acc 5-shot", "PIQA · acc 0-shot"} <= set(options)


def test_exports_keep_both_settings_as_separate_columns(client, arc):
    response = page(client, arc["zero"], arc["five"], _export="csv")
    header = next(csv.reader(io.StringIO(response.content.decode())))
    assert "arc_easy 0-shot acc" in header
    assert "arc_easy 5-shot acc" in header

    response = page(client, arc["zero"], arc["five"], _export="json")
    first = json.loads(response.content)["rows"][0]
    assert {"arc_easy 0-shot acc", "arc_easy 5-shot acc stderr"} <= set(first)


def test_the_ranking_api_warns_and_titles_each_metric(client, arc):
    response = client.get(reverse("api:rankings"), {"metric": [arc["zero"].pk, arc["five"].pk]})

    assert response.status_code == 200
    ranking = response.json()["ranking"]
    assert [m["title"] for m in ranking["metrics"]] == ["ARC (Easy) 0-shot · acc", "ARC (Easy) 5-shot · acc"]
    assert ranking["warnings"] == [
        "arc_easy is included at few-shot counts 0, 5: these are different settings of one task."
    ]


def test_the_compare_page_names_each_setting(client, arc):
    ids = list(Checkpoint.objects.order_by("pk").values_list("pk", flat=True))
    response = client.get(reverse("rankings:compare"), {"checkpoint": ids})

    assert response.status_code == 200
    rows = texts(r'<th scope="row"[^>]*>(.*?)</th>', response.content)
    assert [row.removesuffix(" ↑ higher is better") for row in rows] == [
        "ARC (Easy) 0-shot · acc",
        "ARC (Easy) 5-shot · acc",
        "PIQA · acc",
    ]
