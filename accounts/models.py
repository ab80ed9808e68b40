"""API tokens for scripts: shown once when issued, stored only as a hash, revocable, with the time of last use.

A key reads `lbt_<prefix>_<secret>`. The prefix finds the row (it is stored in clear and indexed); the SHA-256 digest
of the whole key proves it. The secret carries 256 random bits, so a plain fast hash is enough: there is nothing to
guess, and a slow password hash would cost every API request tens of milliseconds.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

KEY_PREFIX = "lbt_"
# Writing last_used_at on every request would turn each read into a write; once a minute says enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, _, secret = key.removeprefix(KEY_PREFIX).partition("_")
    if len(prefix) != 8 or not prefix.isalnum() or len(secret) < 32:
        return None
    return prefix


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> "ApiTokenQuerySet":
        """Tokens that are not revoked and whose user is active."""
        return self.filter(revoked_at__isnull=True, user__is_active=True)

    def issue(self, user, name: str = "") -> tuple["ApiToken", str]:
        """Create a token for `user`; returns it with its key, which exists nowhere else afterwards."""
        for _ in range(5):
            token = self.model(user=user, name=name)
            key = token.set_new_key()
            try:
                with transaction.atomic():
                    token.save()
            except IntegrityError:  # two tokens drew the same 32-bit prefix: draw again
                continue
            return token, key
        raise RuntimeError("Could not draw an unused token prefix.")

    def authenticate(self, key: str) -> "ApiToken | None":
        """The active token `key` belongs to, or None (unknown, malformed, revoked, or its user is inactive)."""
        prefix = split_key(key)
        if prefix is None:
            return None
        token = self.active().select_related("user").filter(prefix=prefix).first()
        if token is None or not hmac.compare_digest(token.digest, digest_of(key)):
            return None
        return token


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What it is for, e.g. 'eval worker on gpu-3'.")
    # Finding the token of a presented key: one indexed lookup per API request.
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    digest = models.CharField("SHA-256 of the key", max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name or 'token'} ({KEY_PREFIX}{self.prefix}…)"

    def set_new_key(self) -> str:
        """Give the token a fresh key; returns the key, of which only the prefix and digest are kept."""
        self.prefix = secrets.token_hex(4)
        key = f"{KEY_PREFIX}{self.prefix}_{secrets.token_urlsafe(32)}"
        self.digest = digest_of(key)
        return key

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=self.revoked_at)

    def record_use(self) -> None:
        """Note that the token was used now, writing at most once per LAST_USED_PRECISION."""
        now = timezone.now()
        if self.last_used_at is not None and now - self.last_used_at < LAST_USED_PRECISION:
            return
        ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now
