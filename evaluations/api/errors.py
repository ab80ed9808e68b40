"""One shape for every API error: `{"detail": ..., "code": ..., "errors": [{"index", "field", "message"}]}`.

`errors` itemises validation errors: `index` is the position of the item in a list body (results, files), `field` a
dotted path inside it (`benchmark.slug`, `metrics.acc`).

A lost database connection (a restart, a failover, a network cut) is a 503 with `Retry-After` and the code
`database_unavailable`; a transaction the database rolled back for a concurrent one (a deadlock) is a 409
`conflict`. Either way the request's transaction was rolled back and every write is idempotent, so sending the same
request again is safe.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status

logger = logging.getLogger(__name__)

# Connection-level failures, not refusals of the data (IntegrityError, DataError): the same request may succeed later.
CONNECTION_ERRORS = (OperationalError, InterfaceError)
# Roughly how long a database restart takes; clients wait this long before sending the request again.
RETRY_AFTER_SECONDS = 5


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable (a restart or a lost connection): send the request again shortly."
    default_code = "database_unavailable"
    wait = RETRY_AFTER_SECONDS  # DRF's exception handler sends it as Retry-After, as for throttling


def flatten(detail, path: tuple = ()) -> list[dict]:
    """DRF's nested error details as a flat list of {index, field, message}."""
    if isinstance(detail, dict):
        return [error for key, value in detail.items() for error in flatten(value, (*path, key))]
    if isinstance(detail, list) and detail and not all(isinstance(item, str) for item in detail):
        return [error for position, item in enumerate(detail) for error in flatten(item, (*path, position))]
    messages = detail if isinstance(detail, list) else [detail]
    index = None
    if path and isinstance(path[0], int):
        index, path = path[0], path[1:]
    field = ".".join(str(part) for part in path if part != "non_field_errors")
    errors = [{"field": field, "message": str(message)} for message in messages]
    if index is not None:
        errors = [{"index": index, **error} for error in errors]
    return errors


def _rolled_back_for_a_concurrent_write(exc: Exception) -> bool:
    """A deadlock or serialisation failure (SQLSTATE class 40): PostgreSQL raises them as OperationalError, but the
    connection is fine and the same request, sent again, succeeds."""
    return str(getattr(exc.__cause__, "sqlstate", None) or "").startswith("40")


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):  # Django's own limit, met when DRF reads a JSON body
        exc = RequestTooLarge(
            f"The request body is larger than the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    elif isinstance(exc, SuspiciousOperation):  # e.g. too many fields or files in a form
        exc = exceptions.ParseError(str(exc))
    elif isinstance(exc, CONNECTION_ERRORS) and _rolled_back_for_a_concurrent_write(exc):
        exc = Conflict("Another request wrote the same rows at the same time: send it again.")
    elif isinstance(exc, CONNECTION_ERRORS):
        view = context.get("view")
        logger.error("Database unavailable in %s", type(view).__name__, exc_info=exc)
        exc = DatabaseUnavailable()
    # Imported here: rest_framework.views reads the API settings, which name this module's neighbours.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten(exc.detail)
        summary = errors[0]["message"] if len(errors) == 1 else f"{len(errors)} errors in the request."
        response.data = {"detail": summary, "code": "invalid", "errors": errors}
    else:
        detail = getattr(exc, "detail", str(exc))
        code = detail.code if isinstance(detail, exceptions.ErrorDetail) else "error"
        response.data = {"detail": str(detail), "code": code or "error"}
    return response


@csrf_exempt  # a POST to an unknown path is a 404 too, not a CSRF failure page
def not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Unknown paths under /api/ answer JSON, not the site's HTML 404 page."""
    hint = "" if request.path.endswith("/") else " API paths end with a slash."
    return JsonResponse({"detail": f"No API endpoint at {request.path}.{hint}", "code": "not_found"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """An unhandled exception (handler500) answers JSON under /api/, with nothing of the exception in it: its
    message may carry SQL or values, and the log has the traceback."""
    if request.path.startswith("/api/"):
        detail = "The server failed to handle the request; the error has been logged."
        return JsonResponse({"detail": detail, "code": "server_error"}, status=500)
    return defaults.server_error(request)
