"""Pages about the work still to do: which results are missing (coverage), asking for them, and the job queue."""

from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

RACE_MESSAGE = "Someone requested some of these at the same moment. Nothing was requested: try again."


def next_url(request: HttpRequest, default: str) -> str:
    """The posted `next` address when it stays on this site, else the URL named `default`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse(default)
