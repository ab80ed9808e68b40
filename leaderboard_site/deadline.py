"""Every request's database work ends by its deadline (REQUEST_TIMEOUT seconds), in any server.

gunicorn's `timeout` cannot do it: with `gthread` workers the main thread keeps reporting the worker alive while a
request runs for as long as it likes, and killing a worker would take its other threads' requests down too. So the
request stops itself, where its time goes: no statement starts after the deadline, and a running one is cancelled
(PostgreSQL's statement_timeout, SQLite's progress handler). The request's transaction rolls back, as for any error,
so nothing is half-written; it answers 503 with `code: request_timeout`.

Python work between statements (parsing a body, rendering a page) is bounded by the request limits instead
(DATA_UPLOAD_MAX_MEMORY_SIZE, API_MAX_TASKS_PER_UPLOAD, the page sizes).
"""

import time
from contextlib import ExitStack, contextmanager

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from rest_framework import exceptions, status

# Statements that end a savepoint, sent by Django's atomic blocks as they exit.
_UNDOING = ("ROLLBACK", "RELEASE")
# How often SQLite calls its progress handler, in virtual-machine instructions: about every millisecond.
_SQLITE_CHECK_EVERY = 10_000


class RequestTimedOut(exceptions.APIException):
    """An APIException, so the API's exception handler answers it in the API's error shape."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "request_timeout"

    def __init__(self, seconds: float):
        super().__init__(
            f"The request took longer than {seconds:g} seconds and was stopped; nothing it wrote was kept. "
            "Send less at once (fewer files or tasks), or narrow the query."
        )


class _Guard:
    """An execute wrapper for one connection during one request."""

    def __init__(self, connection, deadline: float, seconds: float):
        self.connection = connection
        self.deadline = deadline
        self.seconds = seconds
        # PostgreSQL: the statement_timeout last set on the connection, in ms; None until the first statement.
        self.statement_limit_ms: int | None = None
        self.sqlite_handler_set = False

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith(_UNDOING):
            return self._undo(execute, sql, params, many, context)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise RequestTimedOut(self.seconds)
        if self.connection.vendor == "postgresql":
            self._limit_postgresql_statement(context["cursor"].cursor, remaining)
        elif self.connection.vendor == "sqlite" and not self.sqlite_handler_set:
            self.connection.connection.set_progress_handler(self._sqlite_past_deadline, _SQLITE_CHECK_EVERY)
            self.sqlite_handler_set = True
        try:
            return execute(sql, params, many, context)
        except DatabaseError as error:
            if time.monotonic() >= self.deadline:
                raise RequestTimedOut(self.seconds) from error
            raise

    def _undo(self, execute, sql, params, many, context):
        """Rolling back a savepoint (or releasing one) runs whatever the time: stopping it would keep what the
        request wrote."""
        if self.sqlite_handler_set:
            self.connection.connection.set_progress_handler(None, 0)
        try:
            return execute(sql, params, many, context)
        finally:
            if self.sqlite_handler_set:
                self.connection.connection.set_progress_handler(self._sqlite_past_deadline, _SQLITE_CHECK_EVERY)

    def _limit_postgresql_statement(self, raw_cursor, remaining: float) -> None:
        """Set statement_timeout to the time left, again whenever half of the last limit has gone: a statement may
        then overrun the deadline by at most a quarter of the time it was given, at a round trip or two a request."""
        remaining_ms = max(int(remaining * 1000), 1)
        if self.statement_limit_ms is None or remaining_ms < self.statement_limit_ms // 2:
            # A plain SET (not LOCAL), which outlives the transaction it is sent in; `reset` puts the server's value
            # back after the request.
            raw_cursor.execute(f"SET statement_timeout = {remaining_ms}")
            self.statement_limit_ms = remaining_ms

    def _sqlite_past_deadline(self) -> int:
        return 1 if time.monotonic() >= self.deadline else 0

    def reset(self) -> None:
        """Put the connection back as the request found it: what runs after the response (a streamed export) and
        whatever else uses the connection next are not bound by this request's deadline."""
        raw = self.connection.connection
        if raw is None:
            return
        if self.sqlite_handler_set:
            raw.set_progress_handler(None, 0)
        if self.statement_limit_ms is not None:
            try:
                with raw.cursor() as cursor:
                    cursor.execute("RESET statement_timeout")
            except self.connection.Database.Error:
                # In a failed transaction, rolled back by its owner: the next request sets its own limit before its
                # first statement anyway.
                pass


@contextmanager
def request_deadline(seconds: float):
    """Database work inside this block that runs past `seconds` raises RequestTimedOut."""
    deadline = time.monotonic() + seconds
    guards = [_Guard(connection, deadline, seconds) for connection in connections.all()]
    try:
        with ExitStack() as stack:
            for guard in guards:
                stack.enter_context(guard.connection.execute_wrapper(guard))
            yield
    finally:
        for guard in guards:
            guard.reset()


class RequestDeadlineMiddleware:
    """The API answers RequestTimedOut itself (it is an APIException); this covers the HTML pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.REQUEST_TIMEOUT:
            return self.get_response(request)
        with request_deadline(settings.REQUEST_TIMEOUT):
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RequestTimedOut):
            return None
        return HttpResponse(render_to_string("503_timeout.html"), status=503)
