from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    return tmp_path / ".local-admin-password"


@pytest.fixture(autouse=True)
def _no_admin_variables(monkeypatch):
    monkeypatch.delenv("ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)


def ensure_local_admin(password_file: Path) -> str:
    out = StringIO()
    call_command("ensure_local_admin", password_file=password_file, stdout=out)
    return out.getvalue()


def test_it_creates_a_superuser_with_a_generated_password_it_prints_and_keeps(password_file):
    output = ensure_local_admin(password_file)

    password = password_file.read_text().strip()
    assert len(password) >= 20
    assert "username: admin" in output
    assert f"password: {password}" in output
    user = authenticate(username="admin", password=password)
    assert user is not None
    assert user.is_staff
    assert user.is_superuser
    assert password_file.stat().st_mode & 0o077 == 0


def test_a_second_run_keeps_the_password_and_prints_the_same_one(password_file):
    first = ensure_local_admin(password_file)
    hashed = get_user_model().objects.get(username="admin").password

    second = ensure_local_admin(password_file)

    assert get_user_model().objects.get(username="admin").password == hashed
    password = password_file.read_text().strip()
    assert f"password: {password}" in first
    assert f"password: {password}" in second
    assert get_user_model().objects.count() == 1


def test_admin_password_from_the_environment_overrides_an_existing_password(password_file, monkeypatch):
    ensure_local_admin(password_file)
    saved = password_file.read_text()
    monkeypatch.setenv("ADMIN_PASSWORD", "chosen-by-the-operator")

    output = ensure_local_admin(password_file)

    assert authenticate(username="admin", password="chosen-by-the-operator") is not None
    assert "chosen-by-the-operator" not in output
    assert "ADMIN_PASSWORD" in output
    assert password_file.read_text() == saved


def test_admin_username_and_password_from_the_environment_create_that_user(password_file, monkeypatch):
    monkeypatch.setenv("ADMIN_USERNAME", "ada")
    monkeypatch.setenv("ADMIN_PASSWORD", "chosen-by-the-operator")

    output = ensure_local_admin(password_file)

    assert "username: ada" in output
    assert authenticate(username="ada", password="chosen-by-the-operator").is_superuser
    assert not password_file.exists()


def test_a_password_changed_since_is_left_alone_and_not_printed(password_file):
    ensure_local_admin(password_file)
    user = get_user_model().objects.get(username="admin")
    user.set_password("changed-in-the-admin")
    user.save()

    output = ensure_local_admin(password_file)

    assert authenticate(username="admin", password="changed-in-the-admin") is not None
    assert password_file.read_text().strip() not in output
    assert "unchanged" in output


def test_an_existing_user_is_made_an_admin_without_touching_the_password(password_file, django_user_model):
    django_user_model.objects.create_user("admin", password="the-users-own-password")

    output = ensure_local_admin(password_file)

    user = authenticate(username="admin", password="the-users-own-password")
    assert user.is_staff
    assert user.is_superuser
    assert "unchanged" in output
