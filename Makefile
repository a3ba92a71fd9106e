# AdvisorPortal: `make run` serves the app with demo data, `make test` runs every check.
# Without DATABASE_URL / REDIS_URL both use an embedded PostgreSQL and Redis under var/.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DEVENV := $(PY) -m devtools.devenv
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install chromium run test lint typecheck pytest bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e '.[dev]'
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

typecheck: install
	$(DEVENV) run -- $(VENV)/bin/mypy

pytest: install chromium
	$(DEVENV) run -- $(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	$(DEVENV) run -- $(PY) -m devtools.bench

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache
