# ELV bed desk: the two commands of the README, and a few helpers.
#
#   make run    create .venv, install, migrate, compile translations, seed the demo region and
#               serve http://127.0.0.1:8000 (SQLite file db.sqlite3, Celery tasks in-process),
#               with the periodic jobs (`run_periodic_jobs --loop`) in a background process that
#               stops with the server
#   make test   create .venv, install and run the test suite (pytest)
#   make lint   ruff check
#   make simulate  the region simulator: a simulated quarter, report in simulate/results/
#
#   make lock   regenerate requirements/*.txt from pyproject.toml (UPGRADE=1: newest allowed)
#
# .venv is rebuilt from requirements/dev.txt whenever that file changes (stamp .venv/.installed).

VENV    := .venv
BIN     := $(VENV)/bin
PY      := $(BIN)/python
STAMP   := $(VENV)/.installed
# The locked dependency sets (exact versions with hashes), written by `make lock` from
# pyproject.toml: app.txt for the image, dev.txt for make run / test / CI, bench.txt for make bench.
LOCK_APP   := requirements/app.txt
LOCK_DEV   := requirements/dev.txt
LOCK_BENCH := requirements/bench.txt
# The embedded default: DEBUG on, no DATABASE_URL (SQLite file), no REDIS_URL (tasks in-process).
DEV_ENV := DEBUG=1
HOST    ?= 127.0.0.1
PORT    ?= 8000
# Links in e-mails point at the server `make run` starts, also on another port (`make run PORT=8230`).
SITE_URL ?= http://$(HOST):$(PORT)
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-x tests/beds"`.
PYTEST_ARGS ?=
# `make lock UPGRADE=1` moves every pin to the newest release pyproject.toml allows.
UPGRADE ?=

.PHONY: venv install lock messages run test lint format security bench simulate screenshots clean

venv install: $(STAMP)

# $(call fresh_venv,DIR): a new, empty virtualenv in DIR with Python 3.11 exactly (python3.11 if it
# exists, else python3 when that is 3.11). The environment is rebuilt from scratch whenever its
# lock file changes, so it holds exactly the locked set and nothing left over from an older one.
define fresh_venv
	@py="$$(command -v python3.11 || true)"; \
	if [ -z "$$py" ]; then py="$$(command -v python3 || true)"; fi; \
	if [ -z "$$py" ] || ! "$$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
		echo "ELV bed desk needs Python 3.11 (python3.11, or python3 being 3.11); none found." >&2; \
		exit 1; \
	fi; \
	rm -rf $(1); \
	echo "Creating $(1) with $$py"; \
	"$$py" -m venv $(1)
endef

# --require-hashes: every package, dependencies included, must be pinned with a matching hash.
$(STAMP): $(LOCK_DEV)
	$(call fresh_venv,$(VENV))
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK_DEV)
	@touch $@

# Regenerate the lock files from pyproject.toml with uv (itself locked in dev.txt). Existing pins
# are kept unless pyproject.toml no longer allows them; UPGRADE=1 takes the newest allowed.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock: $(STAMP)
	$(UV_COMPILE) -o $(LOCK_APP)
	$(UV_COMPILE) --extra dev -o $(LOCK_DEV)
	$(UV_COMPILE) --extra dev --extra bench -o $(LOCK_BENCH)

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
	$(DEV_ENV) SITE_URL=$(SITE_URL) $(PY) manage.py run_periodic_jobs --loop & jobs=$$!; \
	trap 'kill $$jobs 2>/dev/null' EXIT INT TERM; \
	$(DEV_ENV) SITE_URL=$(SITE_URL) $(PY) manage.py runserver $(HOST):$(PORT)

# pytest's exit code 5 means "no tests ran": make fails on it like on any other non-zero code.
test: $(STAMP) messages
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that counts as a failure." >&2; fi; \
	exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Static security checks (CI runs this). bandit must be clean. pip-audit needs PyPI's per-version
# vulnerability data; where that cannot be reached it says so instead of pretending to be clean.
security: $(STAMP)
	$(BIN)/bandit -q -r . -x './.venv,./.venv-bench,./tests,./staticfiles,./test-artifacts,*/migrations/*'
	@if $(PY) -c "import urllib.request,sys; urllib.request.urlopen('https://pypi.org/pypi/django/5.2/json', timeout=10)" 2>/dev/null; then \
		$(BIN)/pip-audit --strict --skip-editable; \
	else \
		echo "pip-audit: PyPI's vulnerability data (pypi.org/pypi/NAME/VERSION/json) is not reachable from here; not audited." >&2; \
	fi

# The benchmark at national scale (bench/run.py): PostgreSQL and Redis of this machine, or
# DATABASE_URL / REDIS_URL; it drops and recreates <db>_bench_full and <db>_bench_small.
# Extra arguments: `make bench BENCH_ARGS="--duration 5 --skip-small"` (see python -m bench.run --help).
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_ARGS  ?=

# A separate environment, so the locust extra never leaks into the one make test uses.
$(BENCH_STAMP): $(LOCK_BENCH)
	$(call fresh_venv,$(BENCH_VENV))
	$(BENCH_VENV)/bin/python -m pip install --quiet --require-hashes -r $(LOCK_BENCH)
	@touch $@

bench: $(BENCH_STAMP) messages
	$(BENCH_VENV)/bin/python -m bench.run $(BENCH_ARGS)

# The region simulator (simulate/README.md): a quarter of a Zuid-Limburg-size region through the
# desk's real services on a throw-away SQLite database; the report goes to simulate/results/.
# Other runs: `make simulate SIMULATE_ARGS="--seed 7 --days 30"` (python -m simulate --help).
SIMULATE_ARGS ?=
simulate: $(STAMP) messages
	$(PY) -m simulate $(SIMULATE_ARGS)

# The README's "First five minutes" screenshots (docs/screenshots/): demo data in a throw-away
# SQLite database, the app on 127.0.0.1, each role logged in with Debian's Chromium.
screenshots: $(STAMP) messages
	$(PY) docs/make_screenshots.py

clean:
	rm -rf staticfiles test-artifacts .pytest_cache
