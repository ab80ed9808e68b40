"""Who may do what through the API.

Reads follow the site: anyone when `API_ANONYMOUS_READ` is on (the default), else signed-in users; private
leaderboards only for those `Leaderboard.objects.visible_to` admits. Every write needs an API token whose user has
the permission the endpoint names (staff users have all of them); a browser session cannot write.
"""

from django.conf import settings
from rest_framework import permissions, throttling
from rest_framework.settings import api_settings

from accounts.models import ApiToken


class CanRead(permissions.BasePermission):
    message = "Sign in or send an API token to read from this API."

    def has_permission(self, request, view) -> bool:
        if request.method not in permissions.SAFE_METHODS:
            # A method the view does not handle gets its 405; any other write needs its own permission class.
            return not hasattr(view, request.method.lower())
        return settings.API_ANONYMOUS_READ or request.user.is_authenticated


class TokenWithPermission(permissions.BasePermission):
    """A request authenticated by an API token whose user has `perm` or is staff."""

    perm = ""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user.is_authenticated:
            return False
        if not isinstance(request.auth, ApiToken):
            self.message = "Writes need an API token: send `Authorization: Token <key>`."
            return False
        if user.is_staff or user.has_perm(self.perm):
            return True
        self.message = f"This token's user lacks the permission {self.perm}."
        return False


class CanAddEvaluations(TokenWithPermission):
    """Posting results, uploading result files, requesting evaluations."""

    perm = "evaluations.add_evaluation"


class CanRunJobs(TokenWithPermission):
    """Claiming, heartbeating, completing and failing evaluation jobs: what a worker does."""

    perm = "evaluations.change_evaluation"


def may_create(user, model: str) -> bool:
    """Whether `user` may create benchmarks or metrics (`model` is 'benchmark' or 'metric') while posting results."""
    return user.is_staff or user.has_perm(f"evaluations.add_{model}")


class _RatesFromSettings:
    # DRF reads the rates once, at import; reading them per request lets settings (and tests) change them.
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    pass


class UserThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    pass
