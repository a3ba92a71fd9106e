# AdvisorPortal: `make run` serves the app with demo data, `make test` runs every check.
# Without DATABASE_URL / REDIS_URL both use an embedded PostgreSQL and Redis under var/.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DEVENV := $(PY) -m devtools.devenv
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install chromium run test lint typecheck pytest fuzz bench clean

install: $(VENV)/.installed

# Exactly the versions in uv.lock (`uv lock` after changing pyproject.toml's dependencies).
$(VENV)/.installed: pyproject.toml uv.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv sync -q --frozen --inexact --extra dev --no-install-project
	@mkdir -p var
	@touch $@

# Browser tests drive Debian's Chromium; install it when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for browser tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

run: install
	$(DEVENV) up

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install
	$(DEVENV) run -- $(VENV)/bin/mypy

pytest: install chromium
	$(DEVENV) run -- $(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The schema fuzzer deeper than the suite runs it: FUZZ_EXAMPLES examples per operation and role,
# negative data too (tests/test_api_fuzz.py).
fuzz: install
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-50} $(DEVENV) run -- $(VENV)/bin/pytest -n0 tests/test_api_fuzz.py

bench: install
	$(DEVENV) run -- $(PY) -m devtools.bench

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache
