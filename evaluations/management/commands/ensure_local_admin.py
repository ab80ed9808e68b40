"""An administrator to sign in with on a local installation: `make run` calls this before serving."""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

DEFAULT_USERNAME = "admin"


class Command(BaseCommand):
    help = (
        "Create the local admin user (ADMIN_USERNAME, default 'admin') if it does not exist, with ADMIN_PASSWORD or "
        "a generated password kept in .local-admin-password, and print how to sign in. An existing user's password "
        "is only changed when ADMIN_PASSWORD is set."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password-file",
            type=Path,
            default=settings.BASE_DIR / ".local-admin-password",
            help="Where a generated password is kept, so later runs print the same one (default: %(default)s).",
        )

    @transaction.atomic
    def handle(self, *args, password_file: Path, **options) -> None:
        username = os.environ.get("ADMIN_USERNAME", "").strip() or DEFAULT_USERNAME
        given_password = os.environ.get("ADMIN_PASSWORD") or None
        User = get_user_model()
        user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()

        if user is None:
            password = given_password or self._saved_or_new_password(password_file)
            User._default_manager.create_superuser(**{User.USERNAME_FIELD: username, "password": password})
            self.stdout.write(self.style.SUCCESS(f"Created the local admin user {username!r}."))
        else:
            promoted = self._make_admin(user)
            if given_password:
                user.set_password(given_password)
            user.save()
            if promoted:
                self.stdout.write(self.style.WARNING(f"Made the existing user {username!r} an active superuser."))
            else:
                self.stdout.write(f"The local admin user {username!r} exists.")
            if given_password:
                self.stdout.write(self.style.SUCCESS(f"Set the password of {username!r} from ADMIN_PASSWORD."))
            password = given_password or self._saved_password_of(user, password_file)

        self.stdout.write(f"  username: {username}")
        if given_password:
            self.stdout.write("  password: the value of ADMIN_PASSWORD")
        elif password:
            self.stdout.write(f"  password: {password}   (kept in {password_file.name})")
        else:
            self.stdout.write("  password: unchanged (set ADMIN_PASSWORD to reset it)")

    def _saved_or_new_password(self, password_file: Path) -> str:
        saved = self._read(password_file)
        if saved:
            return saved
        password = secrets.token_urlsafe(18)
        # Readable by the owner only: it is a superuser's password.
        password_file.touch(mode=0o600, exist_ok=True)
        password_file.write_text(password + "\n")
        return password

    def _saved_password_of(self, user, password_file: Path) -> str | None:
        """The saved password, if it still is this user's: it may have been changed in the admin since."""
        saved = self._read(password_file)
        return saved if saved and user.check_password(saved) else None

    @staticmethod
    def _read(password_file: Path) -> str:
        try:
            return password_file.read_text().strip()
        except FileNotFoundError:
            return ""

    @staticmethod
    def _make_admin(user) -> bool:
        promoted = not (user.is_active and user.is_staff and user.is_superuser)
        user.is_active = user.is_staff = user.is_superuser = True
        return promoted
