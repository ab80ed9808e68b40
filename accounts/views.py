"""Signing in, with failed attempts limited per client address and per username (LOGIN_RATE_LIMIT, e.g. '5/minute').

Past the limit, the sign-in page (the site's and the admin's) answers 429 with a Retry-After header without checking
the password, until enough counted failures have left the window. Failures are kept in the default cache, like the
API's throttles, and the client address is found the way the API's throttles find it (DRF's NUM_PROXIES). A successful
sign-in forgets the failures of its username, not those of its address: an attacker signing in to an account of their
own must not reset the count of the address they guess from. An attempt takes its place in the count before its
password is checked, so concurrent attempts are held to the limit too (see `limit_failed_logins`).
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
    """Wrap a login view: a POST it answers with the form again (status 200) is a failure; a redirect, a success.

    Each counted key has `limit` slots in the cache, and an attempt claims a free one in each of its keys with
    `cache.add` (atomic: Redis SET NX, or the local cache's lock) before the password is checked. Concurrent attempts
    therefore cannot all pass a check made before any of them is recorded: past the limit they find no free slot.
    A failure keeps its slots until they expire `period` seconds after the attempt; any other answer frees them.
    """

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        rate = settings.LOGIN_RATE_LIMIT
        if request.method != "POST" or not rate:
            return view(request, *args, **kwargs)
        limit, period = parse_rate(rate)
        address_key, user_key = failure_keys(request)
        keys = [key for key in (address_key, user_key) if key]
        now = time.time()
        claimed = []
        for key in keys:
            slot = claim_slot(key, limit, period, now)
            if slot is None:
                cache.delete_many(claimed)
                return too_many_attempts(request, retry_after(key, limit, period, now))
            claimed.append(slot)
        response = view(request, *args, **kwargs)
        if response.status_code == 302 and user_key:
            cache.delete_many([*claimed, *slots(user_key, limit)])
        elif response.status_code != 200:
            cache.delete_many(claimed)
        return response

    return wrapped


def slots(key: str, limit: int) -> list[str]:
    return [f"{key}:{n}" for n in range(limit)]


def claim_slot(key: str, limit: int, period: int, now: float) -> str | None:
    """The cache key of a free slot of `key`, now taken until `period` seconds from `now`; None when all are taken."""
    for slot in slots(key, limit):
        if cache.add(slot, now, period):
            return slot
    return None


def retry_after(key: str, limit: int, period: int, now: float) -> int:
    """Seconds until the first of the key's slots frees."""
    taken = cache.get_many(slots(key, limit)).values()
    return max(1, math.ceil(min(taken, default=now) + period - now))


def too_many_attempts(request: HttpRequest, wait: int) -> HttpResponse:
    minutes = math.ceil(wait / 60)
    when = f"{wait} second{'s' if wait != 1 else ''}" if wait < 60 else f"{minutes} minute{'s' if minutes != 1 else ''}"
    response = TemplateResponse(request, "registration/too_many_attempts.html", {"when": when}, status=429)
    response["Retry-After"] = str(wait)
    return response


login = limit_failed_logins(auth_views.LoginView.as_view())
admin_login = limit_failed_logins(admin.site.login)
