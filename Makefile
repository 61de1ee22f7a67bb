# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make run    install, migrate, make sure Redis answers, start worker + web server
#   make test   install, lint, and run the whole test suite
#   make lint   ruff (lint and format check) and mypy, as CI runs them before the tests
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install lint test test-postgres run bench bench-site bench-load contact-sheet

$(VENV)/installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

install: $(VENV)/installed

# Settings in pyproject.toml; the same checks run before each commit with `.venv/bin/pre-commit install`.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Lint first; then the whole suite on SQLite; then, where PostgreSQL answers (CI has one), the site's database tests on it too
# (its locking differs: the faults' claims and requeues run there again).
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/colorsite
test: install lint
	$(PY) -m pytest
	@if $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL does not answer at 127.0.0.1:5432: skipped the PostgreSQL pass (make test-postgres)"; \
	fi

test-postgres: install
	DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest tests/test_site_*.py tests/test_staff_*.py tests/test_reliability_*.py \
		tests/test_security_limits.py tests/test_fair_use_*.py tests/test_storage_s3*.py -m "not browser"

# Migrate, make sure Redis answers (else start one), run the Celery workers and the web server; Ctrl-C stops all.
run: install
	$(PY) -m colorsite.launch

bench: install
	$(PY) bench/engine.py

# grey | ours | truth for a fixed sample of both test splits, to look at (bench/out/contact_sheet_*.jpg)
contact-sheet: install
	$(PY) bench/contact_sheet.py $(ARGS)

bench-site: install
	$(PY) bench/site.py

# 200 uploads from 20 clients against gunicorn, Redis and two workers (add ARGS=--postgres for PostgreSQL).
bench-load: install
	$(PY) bench/load.py $(ARGS)
