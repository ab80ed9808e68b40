# Everything runs from .venv, created on first use: a fresh machine needs only Python ≥ 3.12 and make.

HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The first of these that is Python ≥ 3.12: in this folder pyenv's `python3` shim picks what .python-version names.
PYTHON_CANDIDATES := $(if $(PYTHON),$(PYTHON),python3 python3.13 python3.12)

VENV := .venv
PY := $(VENV)/bin/python
# Installing again only when pyproject.toml changed keeps a second `make run` fast.
INSTALLED := $(VENV)/.installed
INSTALLED_TEST := $(VENV)/.installed-test
# `make serve`'s SECRET_KEY when none is given: generated once, kept out of git like .local-admin-password.
SECRET_KEY_FILE := .local-secret-key
# Production settings on a machine without TLS (docs/deployment.md): plain HTTP, so no HTTPS redirect, no HSTS and
# cookies without the Secure flag; each can still be set from the environment.
SERVE_ENV = DEBUG=false \
	SECRET_KEY="$${SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}" \
	ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost}" \
	SECURE_SSL_REDIRECT="$${SECURE_SSL_REDIRECT:-false}" \
	SECURE_HSTS_SECONDS="$${SECURE_HSTS_SECONDS:-0}" \
	SESSION_COOKIE_SECURE="$${SESSION_COOKIE_SECURE:-false}" \
	CSRF_COOKIE_SECURE="$${CSRF_COOKIE_SECURE:-false}"

.DEFAULT_GOAL := help
.PHONY: help run serve test test-all lint clean bench loadtest

help:
	@echo "make run    set up .venv, migrate, load the demo data into an empty database, create a local admin,"
	@echo "            and serve on http://$(HOST):$(PORT)/ (make run HOST=0.0.0.0 PORT=9000)"
	@echo "make serve  serve in production mode (DEBUG off, gunicorn, WhiteNoise, JSON logs) on plain HTTP, after"
	@echo "            migrate and collectstatic; no demo data (docs/deployment.md)"
	@echo "make test   run the test suite but its few slow full-scale tests (make test PYTEST_ARGS='-k benchmark -x')"
	@echo "make test-all  the whole suite, slow tests included, as CI runs it"
	@echo "make bench  synthetic data at SCALE=S|M|L (S: 30 thousand scores, L: 10 million) in its own database,"
	@echo "            then times pages, API, ingest and rebuild into docs/performance.md (default: SQLite file"
	@echo "            bench-S.sqlite3; PostgreSQL: make bench SCALE=L BENCH_DATABASE_URL=postgres://...)"
	@echo "make loadtest  gunicorn in production mode under 32 clients for 60 s on the bench database, then a count"
	@echo "            of stored results (make loadtest SCALE=M BENCH_DATABASE_URL=postgres://... SECONDS=60)"
	@echo "make lint   ruff check, ruff format --check, makemigrations --check"
	@echo "make clean  remove .venv and caches (keeps db.sqlite3 and .local-admin-password)"

run: $(INSTALLED)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_demo
	$(PY) manage.py create_demo_leaderboards
	$(PY) manage.py ensure_local_admin
	@echo
	@echo "Serving on http://$(HOST):$(PORT)/ (admin at http://$(HOST):$(PORT)/admin/). Stop with Ctrl+C."
	$(PY) manage.py runserver $(HOST):$(PORT)

serve: $(INSTALLED) $(if $(SECRET_KEY),,$(SECRET_KEY_FILE))
	$(SERVE_ENV) $(PY) manage.py migrate --no-input
	$(SERVE_ENV) $(PY) manage.py collectstatic --no-input --verbosity 0
	@echo
	@echo "Serving in production mode on http://$(HOST):$(PORT)/ (health check at /healthz). Stop with Ctrl+C."
	$(SERVE_ENV) GUNICORN_BIND=$(HOST):$(PORT) $(VENV)/bin/gunicorn --config leaderboard_site/gunicorn.conf.py

$(SECRET_KEY_FILE): | $(PY)
	@umask 077 && $(PY) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@
	@echo "Generated a SECRET_KEY for make serve in $@ (ignored by git)."

# The benchmark's database is never the site's: by default a SQLite file per scale, kept between runs so that a
# second run measures without generating again.
SCALE ?= S
BENCH_DATABASE_URL ?= sqlite:///$(CURDIR)/bench-$(SCALE).sqlite3
BENCH_ARGS ?=
CONCURRENCY ?= 32
SECONDS ?= 60

bench: $(INSTALLED)
	DATABASE_URL="$(BENCH_DATABASE_URL)" $(PY) manage.py migrate --no-input -v 0
	DATABASE_URL="$(BENCH_DATABASE_URL)" $(PY) manage.py bench --scale $(SCALE) $(BENCH_ARGS)

loadtest: $(INSTALLED)
	DATABASE_URL="$(BENCH_DATABASE_URL)" $(PY) manage.py migrate --no-input -v 0
	DATABASE_URL="$(BENCH_DATABASE_URL)" $(PY) manage.py loadtest --concurrency $(CONCURRENCY) --seconds $(SECONDS)

# `make test` leaves out the few full-scale tests marked slow (about a minute and a half between them); CI runs
# everything with `make test-all`. Both spread the tests over one process per CPU (pytest-xdist, a module to a
# process). The browser tests run in a second pass: beside the other modules' transactions in one process, a live
# server's request waited on SQLite's shared in-memory database for ever. TEST_PROCESSES=0 runs in one process.
TEST_PROCESSES ?= auto
XDIST = $(if $(filter 0,$(TEST_PROCESSES)),,-n $(TEST_PROCESSES) --dist loadscope)

test: $(INSTALLED_TEST)
	$(PY) -m pytest $(XDIST) -m "not slow" --ignore=tests/browser $(PYTEST_ARGS)
	$(PY) -m pytest $(XDIST) -m "not slow" tests/browser $(PYTEST_ARGS)

test-all: $(INSTALLED_TEST)
	$(PY) -m pytest $(XDIST) --ignore=tests/browser $(PYTEST_ARGS)
	$(PY) -m pytest $(XDIST) tests/browser $(PYTEST_ARGS)

lint: $(INSTALLED_TEST)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis staticfiles build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

$(INSTALLED): pyproject.toml | $(PY)
	@echo "Installing the project and its dependencies into $(VENV)..."
	$(PY) -m pip install --quiet --editable .
	@touch $@

$(INSTALLED_TEST): pyproject.toml | $(PY)
	@echo "Installing the project with its test dependencies into $(VENV)..."
	$(PY) -m pip install --quiet --editable '.[test]'
	@touch $@ $(INSTALLED)

$(PY):
	@python=""; \
	for candidate in $(PYTHON_CANDIDATES); do \
	  if "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	    python="$$candidate"; break; \
	  fi; \
	done; \
	if [ -z "$$python" ]; then \
	  echo "No Python 3.12 or newer found (tried: $(PYTHON_CANDIDATES))." >&2; \
	  echo "Install Python 3.13 (python.org, your package manager's python3.13, or 'pyenv install 3.13')," >&2; \
	  echo "or point to one: make $(or $(MAKECMDGOALS),run) PYTHON=/path/to/python3.13" >&2; \
	  exit 1; \
	fi; \
	echo "Creating $(VENV) with $$python ($$("$$python" --version 2>&1))"; \
	"$$python" -m venv $(VENV) || { \
	  rm -rf $(VENV); \
	  echo "Could not create $(VENV). On Debian or Ubuntu, install the venv module: apt install python3-venv" >&2; \
	  exit 1; \
	}
