# mcr: `make demo` and `make test` install the stack first when .venv is missing or stale.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mcr-stamp
INSTALL_INPUTS := scripts/install.sh requirements/build.txt requirements/stack.txt requirements/test-oracles.txt pyproject.toml

.PHONY: install demo test lint format clean-venv

$(STAMP): $(INSTALL_INPUTS)
	bash scripts/install.sh

install: $(STAMP)

DEMO_OUT ?= reports/demo

demo: $(STAMP)
	$(PY) -m mcr_eval.demo --out $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .

clean-venv:
	rm -rf $(VENV)
