"""/healthz for load balancers and orchestrators: is the database reachable, does the cache answer?"""

import logging
from uuid import uuid4

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    # A key of its own per probe: concurrent probes against a shared Redis cannot read each other's value.
    key = f"healthz:{uuid4().hex}"
    cache.set(key, "ok", timeout=10)
    if cache.get(key) != "ok":
        raise RuntimeError("the cache did not return the value just written")
    cache.delete(key)


CHECKS = {"database": check_database, "cache": check_cache}


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, else 503; either way the body names each part ("ok" or "error")."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception:
            # The details go to the log, not to whoever probes: the endpoint is public.
            logger.exception("Health check failed: %s", name)
            results[name] = "error"
        else:
            results[name] = "ok"
    healthy = all(result == "ok" for result in results.values())
    return JsonResponse({"status": "ok" if healthy else "error", **results}, status=200 if healthy else 503)
