# The README's two commands: `make run` and `make test`. Both set everything up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
REPO ?= $(CURDIR)
NAME ?= $(notdir $(abspath $(REPO)))
export SOURCEWISE_HOME ?= $(CURDIR)/.sourcewise

.PHONY: run shell demo-source test browser postgres screenshots install install-dev index clean audit lock

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

# The PostgreSQL tests (catalog, chat history, migrations, audit chain, workers) start their own
# throwaway server from Debian's binaries, as the current user (as `postgres` when run as root).
postgres:
	@ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || { \
		echo "installing Debian's postgresql for the PostgreSQL tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q postgresql \
		|| echo "postgresql could not be installed: its tests will say they were skipped"; }

# Refresh the README's screenshots (docs/screenshots) with the browser suite.
screenshots: install-dev browser
	SOURCEWISE_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q tests/e2e

test: install-dev browser postgres
	$(BIN)/python -m pytest -q

# Dependency audit, separate from `make test` (it needs the vulnerability service online).
# pip-audit and uv live in their own venv; `requirements.lock` is the hashed lock for
# deployments (torch excluded: the CPU wheel is installed first, see requirements-torch.txt).
AUDIT_VENV := .venv-audit
AUDIT_SERVICE ?= pypi
TORCH_WHEELS ?= /opt/wheels

$(AUDIT_VENV)/.installed:
	$(PY) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install --disable-pip-version-check -q 'pip-audit>=2.9' 'uv>=0.5'
	touch $@

lock: $(AUDIT_VENV)/.installed
	$(AUDIT_VENV)/bin/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --find-links $(TORCH_WHEELS) --no-emit-package torch \
		--custom-compile-command "make lock" -q -o requirements.lock

# Fails on a known vulnerability, and also when pip-audit could not check the packages
# (pip-audit itself reports "No known vulnerabilities found" then).
audit: $(AUDIT_VENV)/.installed
	@mkdir -p build && rm -f build/pip-audit.json
	@rc=0; $(AUDIT_VENV)/bin/pip-audit -r requirements.lock --require-hashes --disable-pip \
		--vulnerability-service $(AUDIT_SERVICE) --progress-spinner off -f json -o build/pip-audit.json || rc=$$?; \
		$(AUDIT_VENV)/bin/python tools/pip_audit_gate.py build/pip-audit.json $$rc

clean:
	rm -rf $(VENV) $(AUDIT_VENV) .sourcewise .pytest_cache
