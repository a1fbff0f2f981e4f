# The README's two commands: `make run` and `make test`. Both set everything up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
REPO ?= $(CURDIR)
NAME ?= $(notdir $(abspath $(REPO)))
export SOURCEWISE_HOME ?= $(CURDIR)/.sourcewise

.PHONY: run shell demo-source test browser screenshots install install-dev index clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -e .
	touch $@

# llama-cpp-python (dev extra: the protocol tests' model server) builds llama.cpp from
# source. Its default native build uses AMX tiles on CPUs that have them and crashes
# where the kernel does not grant them (seen in a VM on a Xeon with AMX), so it is built
# portable, once per machine, into a wheel directory outside the checkout; pip's own
# wheel cache would hand back a native build made earlier.
LLAMA_WHEELS ?= $(HOME)/.cache/sourcewise/llama-wheels
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF

$(VENV)/.installed-llama: | $(BIN)/python
	@ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || { \
		echo "building llama-cpp-python without native CPU flags (a few minutes, once)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --disable-pip-version-check -q --no-deps \
			--no-cache-dir -w $(LLAMA_WHEELS) 'llama-cpp-python>=0.3'; }
	$(BIN)/pip install --disable-pip-version-check -q --force-reinstall --no-deps \
		"$$(ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl | sort -V | tail -1)"
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-llama | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Index REPO (default: this repository) as a demo source, then serve the chat, the owner
# and admin pages and the API on http://localhost:8000 (the first run prints the admin
# password once and keeps it in .sourcewise/initial-admin-password).
run: install demo-source
	$(BIN)/sourcewise serve

# The same demo source, answered at a terminal prompt instead of the browser.
shell: install demo-source
	$(BIN)/sourcewise shell

demo-source:
	@$(BIN)/sourcewise source list --json | grep -q '"name": "$(NAME)"' || \
		$(BIN)/sourcewise source add "$(NAME)" --git "$(REPO)"
	$(BIN)/sourcewise index "$(NAME)"

# The browser tests drive Debian's Chromium through Playwright (no browser download).
browser:
	@test -x /usr/bin/chromium || { \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

# Refresh the README's screenshots (docs/screenshots) with the browser suite.
screenshots: install-dev browser
	SOURCEWISE_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q tests/e2e

test: install-dev browser
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .sourcewise .pytest_cache
