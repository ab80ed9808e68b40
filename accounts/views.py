"""Signing in, with failed attempts limited per client address and per username (LOGIN_RATE_LIMIT, e.g. '5/minute').

Past the limit, the sign-in page (the site's and the admin's) answers 429 with a Retry-After header without checking
the password, until enough counted failures have left the window. Failures are kept in the default cache, like the
API's throttles, and the client address is found the way the API's throttles find it (DRF's NUM_PROXIES). A successful
sign-in forgets the failures of its username, not those of its address: an attacker signing in to an account of their
own must not reset the count of the address they guess from.
"""

import functools
import hashlib
import math
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'5/minute' -> (5, 60): the number of failures allowed, and the window in seconds."""
    number, _, period = rate.partition("/")
    return int(number), PERIODS[period[0]]


def failure_keys(request: HttpRequest) -> tuple[str, str | None]:
    """The cache keys counting the failures of the request's client address and of the username it tries."""
    address = BaseThrottle().get_ident(request) or "unknown"
    username = request.POST.get("username", "").strip().casefold()
    user_key = f"login-failures:user:{digest(username)}" if username else None
    return f"login-failures:address:{digest(address)}", user_key


def digest(text: str) -> str:
    # Hashed: a username (or a forwarded address) may hold characters or a length that a cache key cannot.
    return hashlib.sha256(text.encode(errors="replace")).hexdigest()


def limit_failed_logins(view: Callable) -> Callable:
    """Wrap a login view: a POST it answers with the form again (status 200) is a failure; a redirect, a success."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        rate = settings.LOGIN_RATE_LIMIT
        if request.method != "POST" or not rate:
            return view(request, *args, **kwargs)
        limit, period = parse_rate(rate)
        now = time.time()
        address_key, user_key = failure_keys(request)
        keys = [key for key in (address_key, user_key) if key]
        failures = {key: [t for t in cache.get(key, []) if t > now - period] for key in keys}
        # Oldest first: below the limit again once the limit-th most recent failure is older than the window.
        waits = [times[-limit] + period - now for times in failures.values() if len(times) >= limit]
        if waits:
            return too_many_attempts(request, max(1, math.ceil(max(waits))))
        response = view(request, *args, **kwargs)
        if response.status_code == 200:
            for key, times in failures.items():
                cache.set(key, [*times, now], period)
        elif response.status_code == 302 and user_key:
            cache.delete(user_key)
        return response

    return wrapped


def too_many_attempts(request: HttpRequest, wait: int) -> HttpResponse:
    minutes = math.ceil(wait / 60)
    when = f"{wait} second{'s' if wait != 1 else ''}" if wait < 60 else f"{minutes} minute{'s' if minutes != 1 else ''}"
    response = TemplateResponse(request, "registration/too_many_attempts.html", {"when": when}, status=429)
    response["Retry-After"] = str(wait)
    return response


login = limit_failed_logins(auth_views.LoginView.as_view())
admin_login = limit_failed_logins(admin.site.login)
