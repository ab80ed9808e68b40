"""The rankings docs page renders its markdown as a reader expects: every numbered list whole."""

import re

from django.urls import reverse


def test_every_numbered_item_of_the_methods_list_is_in_one_list(client):
    html = client.get(reverse("rankings:docs")).content.decode()

    methods = next(ol for ol in re.findall(r"<ol>(.*?)</ol>", html, re.S) if "Single metric" in ol)
    items = re.findall(r"<li>\s*(?:<p>)?\s*<strong>([^<]+)</strong>", methods)
    assert items == ["Single metric", "Mean", "Weighted mean", "Normalised mean", "Mean rank", "Mean win rate"]


def test_no_list_item_runs_into_a_paragraph(client):
    html = client.get(reverse("rankings:docs")).content.decode()

    paragraphs = re.findall(r"<p>(.*?)</p>", html, re.S)
    assert not [p for p in paragraphs if re.search(r"\n\s*(\d+\.|[-*]) ", p)]
