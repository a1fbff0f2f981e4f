# The README's two commands: `make run` and `make test`. Both set everything up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
REPO ?= $(CURDIR)
NAME ?= $(notdir $(abspath $(REPO)))
export SOURCEWISE_HOME ?= $(CURDIR)/.sourcewise

.PHONY: run test install install-dev index clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Index REPO (default: this repository) as a demo source, then open the question prompt.
run: install
	@$(BIN)/sourcewise source list --json | grep -q '"name": "$(NAME)"' || \
		$(BIN)/sourcewise source add "$(NAME)" --git "$(REPO)"
	$(BIN)/sourcewise index "$(NAME)"
	$(BIN)/sourcewise shell

test: install-dev
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .sourcewise .pytest_cache
