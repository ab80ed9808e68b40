"""Settings for the leaderboard site: one module, everything that varies comes from the environment."""

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from leaderboard_site.logging import FORMATTERS as LOG_FORMATTERS
from leaderboard_site.logging import log_settings

BASE_DIR = Path(__file__).resolve().parent.parent

_INSECURE_DEV_KEY = "django-insecure-local-development-key-do-not-use-in-production"


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0/yes/no/on/off), got {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_env(default_url: str, conn_max_age: int) -> dict:
    url = os.environ.get("DATABASE_URL") or default_url
    if "://" not in url:
        # Not echoed: a mistyped URL may still hold a password.
        raise ImproperlyConfigured(
            "DATABASE_URL must be a URL such as postgres://user@host:5432/name or sqlite:///path/to/db.sqlite3."
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL ({error}).") from None
    if config.get("ENGINE") not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must point to SQLite or PostgreSQL, got {url.split(':', 1)[0]!r}.")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Several processes writing at once (gunicorn workers, an import beside the site): a transaction takes the
        # write lock when it begins and waits up to `timeout` for it, instead of failing with "database is locked"
        # when it upgrades midway; WAL lets readers go on while one writes.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        } | config.get("OPTIONS", {})
    return config


def cache_from_env(environ: Mapping[str, str] = os.environ) -> dict:
    """The default cache: Redis when REDIS_URL (or CACHE_URL) names one, else this process's local memory."""
    names = [name for name in ("REDIS_URL", "CACHE_URL") if environ.get(name, "").strip()]
    if len(names) > 1:
        raise ImproperlyConfigured("Set REDIS_URL or CACHE_URL, not both.")
    if not names:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    name = names[0]
    url = environ[name].strip()
    if url == "locmem://":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    # Not echoed: the URL may hold a password.
    example = f"{name} must be a Redis URL such as redis://127.0.0.1:6379/0, rediss://… or unix:///path/to/redis.sock"
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - parsing the port is the check.
    except ValueError:
        raise ImproperlyConfigured(f"{example} (its port is not a number).") from None
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"{example}, got the scheme {parts.scheme or 'none'!r}.")
    if parts.scheme == "unix" and not parts.path:
        raise ImproperlyConfigured(f"{example} (it names no socket).")
    if parts.scheme != "unix" and (not parts.hostname or parts.path.strip("/") not in {"", *map(str, range(16))}):
        raise ImproperlyConfigured(f"{example} (a host, and at most a database number 0-15 as its path).")
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": environ.get("CACHE_KEY_PREFIX", ""),
        # An unreachable Redis fails a request (and /healthz) within seconds instead of hanging it.
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _INSECURE_DEV_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for origin in CSRF_TRUSTED_ORIGINS:
    if not origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"CSRF_TRUSTED_ORIGINS entries must start with http:// or https://, got {origin!r}.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "evaluations",
    "rankings",
    "accounts",
    "perf",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "leaderboard_site.middleware.LengthRequiredMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "leaderboard_site.deadline.RequestDeadlineMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "leaderboard_site.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "leaderboard_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "leaderboard_site.wsgi.application"

# Persistent connections (with a health check before reuse) save a new connection per request, about 5 ms on
# PostgreSQL; each gunicorn thread holds one, so workers × threads must stay under the server's max_connections.
DATABASES = {
    "default": database_from_env(
        f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=env_int("CONN_MAX_AGE", 0 if DEBUG else 60)
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The read model's covering index (evaluations.CurrentScore) includes columns only PostgreSQL can use; SQLite builds
# the same index without them, which is what we want there.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "leaderboard_site.staticfinders.PackageFileFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# WhiteNoise's defaults are the right ones: a hashed name from the manifest is served with a ten-year max-age and
# `immutable`; a name without a hash gets WHITENOISE_MAX_AGE (60 s with DEBUG off), so it can change.

# Per process unless REDIS_URL is set: with several gunicorn workers, throttling and cached pages need Redis.
CACHES = {"default": cache_from_env()}

DJANGO_TABLES2_TEMPLATE = "rankings/table.html"
# How long a saved leaderboard's rendered ranking may stay cached (0 turns it off). Entries are keyed by the version
# stamps of what they show (rankings.cache), so this bounds memory, not staleness.
RANKING_CACHE_SECONDS = env_int("RANKING_CACHE_SECONDS", 3600)

# Production hardening: only takes effect with DEBUG off, so local development over plain HTTP keeps working.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Load balancers probe /healthz over plain HTTP, behind the TLS they terminate.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Only our own files run or load. Scripts: no inline code and no eval anywhere (the charts' data are JSON blocks
# read by static/js/charts.js; the API docs use drf-spectacular's split Swagger view, whose script is a URL).
# Styles need 'unsafe-inline': plotly.js adds a <style> element for its mode bar and hover labels and sets style
# attributes (colour bars, images); Redoc's styled-components, htmx's indicator styles and the standalone 500 page
# do the same. Inline styles cannot run code. img-src allows data: (Swagger UI's icons) and blob: (plotly's
# "download as PNG", which draws the SVG through a blob URL).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# One JSON object per line in production (leaderboard_site/logging.py), readable text while developing.
try:
    LOG_FORMAT, LOG_LEVEL = log_settings(DEBUG)
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": LOG_FORMATTERS,
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's own handlers would print its messages a second time while DEBUG is on; the root handler is enough.
        "django": {"handlers": [], "level": "INFO"},
        # runserver's request lines, in the same format as everything else.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}


# The REST API under /api/ (docs/api.md). Reads are open to anonymous clients unless API_ANONYMOUS_READ is off;
# every write needs an API token whose user has the matching permission.
def env_rate(name: str, default: str) -> str | None:
    """A DRF throttle rate such as '100/minute'; 'none' switches the throttle off."""
    raw = os.environ.get(name, default).strip()
    if raw.lower() in {"", "none", "off"}:
        return None
    number, _, period = raw.partition("/")
    if not number.isdigit() or period not in {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}:
        raise ImproperlyConfigured(f"{name} must be a rate such as '100/minute' or 'none', got {raw!r}.")
    return raw


API_ANONYMOUS_READ = env_bool("API_ANONYMOUS_READ", True)
API_MAX_RESULTS_PER_REQUEST = env_int("API_MAX_RESULTS_PER_REQUEST", 1000)
API_MAX_FILES_PER_UPLOAD = env_int("API_MAX_FILES_PER_UPLOAD", 50)
# Tasks (entries of a file's `results`) per lm-eval file and per upload: one upload of 100,000 tasks held its
# transaction, and the pages waiting on it, for 16 minutes. Importing takes roughly 10 ms per task.
API_MAX_TASKS_PER_FILE = env_int("API_MAX_TASKS_PER_FILE", 1000)
API_MAX_TASKS_PER_UPLOAD = env_int("API_MAX_TASKS_PER_UPLOAD", 2000)
# Seconds a request's database work may take before it is stopped with a 503 and rolled back
# (leaderboard_site/deadline.py); 0 turns the limit off.
REQUEST_TIMEOUT = env_int("REQUEST_TIMEOUT", 30)
# Request bodies above this many bytes are refused with a 413, uploads included.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
# The job queue: how long a claimed evaluation stays with its worker without a heartbeat, and how many times a job
# whose lease expired goes back to the queue before it is failed.
EVALUATION_LEASE_SECONDS = env_int("EVALUATION_LEASE_SECONDS", 600)
EVALUATION_MAX_ATTEMPTS = env_int("EVALUATION_MAX_ATTEMPTS", 3)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["evaluations.api.permissions.CanRead"],
    "DEFAULT_PARSER_CLASSES": ["evaluations.api.framework.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "evaluations.api.framework.PageNumberPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50),
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "evaluations.api.framework.StableOrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "evaluations.api.permissions.AnonThrottle",
        "evaluations.api.permissions.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_THROTTLE_ANON", "120/minute"),
        "user": env_rate("API_THROTTLE_USER", "1200/minute"),
    },
    # How many reverse proxies in front of the site append to X-Forwarded-For: the client address that throttles
    # (and the login limit) count is the one the outermost of them saw. With 0, REMOTE_ADDR; never the whole
    # header, which a client can forge to escape its limit. Behind the TLS proxy of docs/deployment.md, one.
    "NUM_PROXIES": env_int("NUM_PROXIES", 1 if env_bool("BEHIND_TLS_PROXY", False) else 0),
    "DEFAULT_SCHEMA_CLASS": "evaluations.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "evaluations.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# Failed sign-ins allowed per client address and per username (site and admin) before the sign-in page answers 429
# without checking passwords (accounts.views); 'none' switches the limit off.
LOGIN_RATE_LIMIT = env_rate("LOGIN_RATE_LIMIT", "5/minute")

SPECTACULAR_SETTINGS = {
    "TITLE": "Leaderboard API",
    "DESCRIPTION": "Models, trainings, checkpoints, benchmarks, evaluations and rankings; results in, jobs out.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "EvaluationStatus": "evaluations.models.Evaluation.Status",
        "EvaluationSource": "evaluations.models.Evaluation.Source",
        "Direction": "evaluations.models.Metric.Direction",
        "RankingMethod": "rankings.methods.Method",
        "MissingPolicy": "rankings.methods.Missing",
        "TieStyle": "rankings.methods.Ties",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "evaluations.api.schema.add_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
