# Two commands for a new user: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_PORT ?= 8765

.PHONY: demo test test-fast lint bench docs clean

$(VENV)/.installed: setup.cfg pyproject.toml setup.py crawler/links/_hrefs.c crawler/links/_join.c \
		crawler/backends/memory/_fingerprints.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m fixtures.demo --port $(DEMO_PORT)

# Every test, on three pytest-xdist workers per core: most of the suite's time is spent waiting
# on servers, deadlines and child processes (tests/conftest.py; PYTEST_WORKERS=0: all in this
# process).
PYTEST_WORKERS ?= auto
test: $(VENV)/.installed
	@command -v redis-server >/dev/null || echo "note: no redis-server, the Redis tests will skip (apt-get install redis-server)"
	$(PY) -m pytest -n $(PYTEST_WORKERS)

# The edit-run loop: tests that start no process (no CLI, fixture site, redis-server or
# processes mode; tests/conftest.py marks the others `subprocess` and enforces the mark).
test-fast: $(VENV)/.installed
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q -m "not subprocess"

# ruff, then the layer contracts of .importlinter (the CLI on top, no concurrency library in
# the engine, http/links/politeness below the engine, no import cycles).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check crawler fixtures tests bench examples cli.py
	$(VENV)/bin/ruff format --check crawler fixtures tests bench examples cli.py
	$(VENV)/bin/lint-imports

bench: $(VENV)/.installed
	$(PY) -m bench.run

# The docs site (mkdocs.yml, docs/); strict: a broken link or a page left out of nav fails.
docs: $(VENV)/.installed
	$(VENV)/bin/mkdocs build --strict --site-dir build/site

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
