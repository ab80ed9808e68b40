"""Structured logs: one JSON object per line, for Django's loggers and gunicorn's alike (docs/deployment.md)."""

import json
import logging
import os
from datetime import UTC, datetime

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATTERS = {
    "json": {"()": "leaderboard_site.logging.JsonFormatter"},
    "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
}


def log_settings(debug: bool) -> tuple[str, str]:
    """(LOG_FORMAT, LOG_LEVEL) from the environment, for settings.py and gunicorn's configuration alike: json by
    default with DEBUG off, text with it on; INFO. Raises ValueError naming the variable for a bad value."""
    log_format = os.environ.get("LOG_FORMAT", "").strip().lower() or ("text" if debug else "json")
    if log_format not in FORMATTERS:
        raise ValueError(f"LOG_FORMAT must be json or text, got {log_format!r}.")
    level = os.environ.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LEVELS:
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}.")
    return log_format, level


# Everything a LogRecord carries by itself; any other attribute came from `extra=` and is logged as a field.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
# Extras that are objects rather than values (Django passes its HttpRequest, runserver its socket and a time string).
_IGNORED_EXTRAS = {"request", "server_time", "status_code"}


def _unescape(value: object) -> object:
    # gunicorn escapes double quotes in its atoms for the Apache-style line; JSON does its own escaping.
    return value.replace('\\"', '"') if isinstance(value, str) else value


def _gunicorn_access_fields(atoms: dict) -> dict:
    """The request fields of one gunicorn access-log line (its atoms: see gunicorn's access_log_format)."""
    fields = {
        "method": atoms.get("m"),
        "path": atoms.get("U"),
        "query": atoms.get("q") or None,
        "status": int(atoms["s"]) if str(atoms.get("s", "")).isdigit() else atoms.get("s"),
        "duration_ms": atoms.get("M"),
        "bytes": atoms.get("B"),
        "remote_addr": atoms.get("h"),
        "user_agent": atoms.get("a"),
        "referer": atoms.get("f"),
    }
    return {name: _unescape(value) for name, value in fields.items() if value not in (None, "-")}


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON: time, level, logger, message, request fields, exception, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry.update(_gunicorn_access_fields(record.args))
        request = getattr(record, "request", None)
        # Django's HttpRequest; runserver passes its socket under the same name, which has neither attribute.
        if getattr(request, "method", None) and getattr(request, "path", None):
            entry["method"] = request.method
            entry["path"] = request.path
        if isinstance(getattr(record, "status_code", None), int):
            entry["status"] = record.status_code
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and name not in _IGNORED_EXTRAS and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
