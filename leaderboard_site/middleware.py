"""A lost database connection answers the pages' 503, asking to try again, instead of the generic 500."""

import logging

from django.http import HttpRequest, HttpResponse
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
