# ELV bed desk: the two commands of the README, and a few helpers.
#
#   make run    create .venv, install, migrate, compile translations, seed the demo region and
#               serve http://127.0.0.1:8000 (SQLite file db.sqlite3, Celery tasks in-process),
#               with the periodic jobs (`run_periodic_jobs --loop`) in a background process that
#               stops with the server
#   make test   create .venv, install and run the test suite (pytest)
#   make lint   ruff check
#
# The install step re-runs only when pyproject.toml changes (stamp file .venv/.installed).

VENV    := .venv
BIN     := $(VENV)/bin
PY      := $(BIN)/python
STAMP   := $(VENV)/.installed
# The embedded default: DEBUG on, no DATABASE_URL (SQLite file), no REDIS_URL (tasks in-process).
DEV_ENV := DEBUG=1
HOST    ?= 127.0.0.1
PORT    ?= 8000
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-x tests/beds"`.
PYTEST_ARGS ?=

.PHONY: venv install messages run test lint security bench screenshots clean

venv install: $(STAMP)

# Python 3.11 exactly: python3.11 if it exists, else python3 when that is 3.11.
$(PY):
	@py="$$(command -v python3.11 || true)"; \
	if [ -z "$$py" ]; then py="$$(command -v python3 || true)"; fi; \
	if [ -z "$$py" ] || ! "$$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
		echo "ELV bed desk needs Python 3.11 (python3.11, or python3 being 3.11); none found." >&2; \
		exit 1; \
	fi; \
	echo "Creating $(VENV) with $$py"; \
	"$$py" -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

# Compiled .mo files are committed, so a machine without GNU gettext (msgfmt) still runs in Dutch.
messages: $(STAMP)
	@if command -v msgfmt >/dev/null 2>&1; then \
		$(DEV_ENV) $(PY) manage.py compilemessages --ignore=$(VENV) --ignore=staticfiles --verbosity 0; \
	else \
		echo "msgfmt (GNU gettext) not found: using the committed .mo files."; \
	fi

run: $(STAMP) messages
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py seed_demo
	$(DEV_ENV) $(PY) manage.py seed_cockpit_demo
	$(DEV_ENV) $(PY) manage.py run_periodic_jobs --loop & jobs=$$!; \
	trap 'kill $$jobs 2>/dev/null' EXIT INT TERM; \
	$(DEV_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

# pytest's exit code 5 means "no tests ran": make fails on it like on any other non-zero code.
test: $(STAMP) messages
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that counts as a failure." >&2; fi; \
	exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .

# Static security checks (CI runs this). bandit must be clean. pip-audit needs PyPI's per-version
# vulnerability data; where that cannot be reached it says so instead of pretending to be clean.
security: $(STAMP)
	$(BIN)/bandit -q -r . -x './.venv,./tests,./staticfiles,./test-artifacts,*/migrations/*'
	@if $(PY) -c "import urllib.request,sys; urllib.request.urlopen('https://pypi.org/pypi/django/5.2/json', timeout=10)" 2>/dev/null; then \
		$(BIN)/pip-audit --strict --skip-editable; \
	else \
		echo "pip-audit: PyPI's vulnerability data (pypi.org/pypi/NAME/VERSION/json) is not reachable from here; not audited." >&2; \
	fi

# The benchmark at national scale (bench/run.py): PostgreSQL and Redis of this machine, or
# DATABASE_URL / REDIS_URL; it drops and recreates <db>_bench_full and <db>_bench_small.
# Extra arguments: `make bench BENCH_ARGS="--duration 5 --skip-small"` (see python -m bench.run --help).
BENCH_STAMP := $(VENV)/.installed-bench
BENCH_ARGS  ?=

$(BENCH_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	@touch $@

bench: $(STAMP) $(BENCH_STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

# The README's "First five minutes" screenshots (docs/screenshots/): demo data in a throw-away
# SQLite database, the app on 127.0.0.1, each role logged in with Debian's Chromium.
screenshots: $(STAMP) messages
	$(PY) docs/make_screenshots.py

clean:
	rm -rf staticfiles test-artifacts .pytest_cache
