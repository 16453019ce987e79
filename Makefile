# Airlock developer entry point. `make run` starts the registry; `make test` runs everything.
# Both install what they need (uv, the locked Python dependencies, the pinned npm for tests).

SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .cache/bootstrap/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=
# Two workers: the suite is CPU-bound (npm and server processes) and CI has two cores.
PYTEST := $(PY) -m pytest -n 2

.PHONY: chromium help run test test-sqlite test-postgresql test-s3 lint fmt typecheck migrate bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv .cache/bootstrap
	.cache/bootstrap/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

run: $(VENV)/.synced ## Start Airlock on embedded defaults (SQLite + files in ./airlock-data)
	$(VENV)/bin/airlock serve $(ARGS)

test: lint test-sqlite test-postgresql test-s3 ## Lint, type-check, the whole suite on SQLite and PostgreSQL, the S3 subset

# `make test` runs every test module at least once on each database and each storage, but
# not every module in every combination (README, "Developing"):
# - the real-client modules (pnpm, yarn, Chromium) drive the clients' side of the protocol
#   over the same services that tests/behaviour runs on both databases; they run once, on
#   PostgreSQL (the stricter database, and the fleet's);
# - the S3 subset runs on PostgreSQL with S3 storage instead of the filesystem, which the
#   SQLite pass covers.
# `make test-sqlite` or `make test-postgresql` on its own runs every module.
CLIENT_MODULES := tests/e2e/test_pnpm_e2e.py tests/e2e/test_yarn_e2e.py \
	tests/e2e/test_web_ui_e2e.py tests/e2e/test_web_review_e2e.py tests/e2e/test_web_cli_e2e.py \
	tests/e2e/test_web_2fa_writes_e2e.py tests/e2e/test_web_account_e2e.py \
	tests/e2e/test_web_packages_e2e.py tests/e2e/test_passkeys_e2e.py \
	tests/e2e/test_passkey_action_e2e.py tests/e2e/test_passkey_cli_e2e.py
test: SQLITE_ONLY_ARGS = $(addprefix --ignore=,$(CLIENT_MODULES))
test: PG_ONLY_ARGS = $(addprefix --ignore=,$(S3_SUBSET))

test-sqlite: $(VENV)/.synced chromium ## The suite against SQLite
	AIRLOCK_TEST_DB=sqlite $(PYTEST) $(SQLITE_ONLY_ARGS) $(ARGS)

test-postgresql: $(VENV)/.synced chromium ## The suite against PostgreSQL (127.0.0.1:5432, or AIRLOCK_TEST_PG_URL)
	AIRLOCK_TEST_DB=postgresql $(PYTEST) $(PG_ONLY_ARGS) $(ARGS)

# The browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download does not work offline); install it when it is missing.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# The publish / stage / install / unpublish / expiry end-to-end tests again, with S3 storage
# (moto's server, started by the tests) on PostgreSQL: the fleet configuration.
S3_SUBSET := tests/e2e/test_publish_e2e.py tests/e2e/test_install_e2e.py \
	tests/e2e/test_stage_e2e.py tests/e2e/test_manage_e2e.py tests/e2e/test_fleet_e2e.py
test-s3: $(VENV)/.synced ## The end-to-end publish/stage/install/unpublish/expiry tests on PostgreSQL + S3 (moto)
	AIRLOCK_TEST_DB=postgresql AIRLOCK_TEST_STORAGE=s3 $(PYTEST) $(S3_SUBSET) $(ARGS)

lint: $(VENV)/.synced ## ruff and mypy --strict
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/ruff format --check src tests scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: $(VENV)/.synced ## Format and autofix
	$(VENV)/bin/ruff format src tests scripts
	$(VENV)/bin/ruff check --fix src tests scripts

migrate: $(VENV)/.synced ## Apply migrations to the configured database
	$(VENV)/bin/airlock migrate $(ARGS)

bench: $(VENV)/.synced ## Side-by-side benchmark: Airlock, Verdaccio, nginx (bench/README.md, ~15 min)
	scripts/bench.sh

clean: ## Remove caches (not ./airlock-data)
	rm -rf .cache .venv .pytest_cache .mypy_cache .ruff_cache
