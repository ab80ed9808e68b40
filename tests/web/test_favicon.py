import pytest

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_icon_in_static(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")


def test_every_page_links_the_icon(client):
    assert 'rel="icon"' in client.get("/").text
