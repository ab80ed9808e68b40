"""gunicorn's configuration: `gunicorn -c leaderboard_site/gunicorn.conf.py` (docs/deployment.md lists the variables).

Everything that varies comes from the environment, like settings.py; a bad value stops gunicorn with its name.
"""

import os
import sys
from pathlib import Path

# The project's own modules, wherever gunicorn is started from (`chdir` below applies only once it runs).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leaderboard_site.logging import FORMATTERS, log_settings  # noqa: E402


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}.") from None


def _debug() -> bool:
    return os.environ.get("DEBUG", "true").strip().lower() in {"1", "true", "yes", "on"}


# Import paths and relative paths are the project's, wherever gunicorn is started from.
chdir = str(Path(__file__).resolve().parent.parent)
wsgi_app = "leaderboard_site.wsgi:application"

bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_env_int('PORT', 8000)}"]

# Threads share a worker's memory and suit a site that mostly waits on the database; each thread holds its own
# persistent database connection, so workers × threads is the connection count (keep it under max_connections).
worker_class = "gthread"
workers = _env_int("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8))
threads = _env_int("GUNICORN_THREADS", 4)

# A request that runs longer than `timeout` gets its worker restarted; on shutdown or reload, workers have
# `graceful_timeout` to finish the requests they hold.
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
# Recycling workers bounds slow memory growth; the jitter keeps them from all restarting at once.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 100)

# The worker heartbeat file: in memory where there is /dev/shm, since a container's disk may be slow or read-only.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# gunicornc's control socket would default to one path per user, shared by every gunicorn that user starts.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# Logs go to standard output and error in the site's own format (LOG_FORMAT, as in settings.py): with json, the
# default when DEBUG is off, every line, access lines included, is one JSON object (leaderboard_site/logging.py).
accesslog = "-"
errorlog = "-"
try:
    LOG_FORMAT, LOG_LEVEL = log_settings(_debug())
except ValueError as error:
    raise SystemExit(str(error)) from None
loglevel = LOG_LEVEL.lower()
# In JSON the request fields (method, path, status, duration_ms, …) come from gunicorn's atoms; the message is the
# request line.
access_log_format = "%(r)s" if LOG_FORMAT == "json" else '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": FORMATTERS,
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "stream": "ext://sys.stdout"},
        "stderr": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "stream": "ext://sys.stderr"},
    },
    "root": {"level": LOG_LEVEL, "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": LOG_LEVEL, "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        # Django answers HEAD with a body for the server to drop, which gunicorn does, with a warning every time
        # (load balancers' HEAD probes included).
        "gunicorn.http.wsgi": {"level": "ERROR"},
    },
}
