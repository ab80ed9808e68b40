"""A lost database connection answers the pages' 503, asking to try again, instead of the generic 500; a body sent
without a length is refused with 411 rather than silently read as empty."""

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from evaluations.api.errors import CONNECTION_ERRORS, RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """The API answers these errors itself (`evaluations.api.errors`); this covers the HTML pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, CONNECTION_ERRORS):
            return None
        logger.error("Database unavailable: %s %s", request.method, request.path, exc_info=exception)
        # Rendered without a request or context, like 500.html: nothing on the page may need the database.
        return HttpResponse(render_to_string("503.html"), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class LengthRequiredMiddleware:
    """Django reads a body only up to CONTENT_LENGTH, so a chunked body (`Transfer-Encoding`, no `Content-Length`)
    would reach the views as an empty one: an upload "succeeding" with nothing in it. Refused with 411 instead;
    every HTTP client sends a length for a body it holds, and a proxy that buffers requests adds one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_TRANSFER_ENCODING" in request.META and not request.META.get("CONTENT_LENGTH"):
            detail = "Transfer-Encoding without Content-Length is not supported: send the body with a Content-Length."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": detail, "code": "length_required"}, status=411)
            return HttpResponse(detail, status=411, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
