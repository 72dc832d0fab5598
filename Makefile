# Two entry points: `make demo` and `make test`. Both build .venv/ from the pinned lock file first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Label Studio server used by the round-trip tests lives in its own venv (it pins an older pyarrow).
LS_VENV := .label-studio-venv
LS_STAMP := $(LS_VENV)/.installed

.PHONY: setup demo test lint lock lock-label-studio label-studio chromium screenshot clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock requirements-nodeps.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: setup
	$(BIN)/curate run pipelines/demo.yaml --output runs/demo
	$(BIN)/curate validate sample_data/korquad_sample.json --report runs/demo/validate_report.csv || test $$? -eq 1

label-studio: $(LS_STAMP)

$(LS_STAMP): requirements-label-studio.lock
	@test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-label-studio.lock
	@touch $(LS_STAMP)

# Debian's Chromium (and a Korean font) for the browser tests of report.html; needs root and Debian's archive.
chromium:
	@dpkg-query -W -f='$${Status}\n' chromium fonts-nanum 2>/dev/null | grep -c '^install ok installed' | grep -qx 2 \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-nanum; }

# The Label Studio round trip needs the server, the report tests Chromium; if either cannot be installed, the
# tests still run and say so loudly.
test: setup
	@$(MAKE) --no-print-directory label-studio || echo "!!!!!! LABEL STUDIO SERVER COULD NOT BE INSTALLED: its round-trip tests will be SKIPPED !!!!!!"
	@$(MAKE) --no-print-directory chromium || echo "!!!!!! CHROMIUM COULD NOT BE INSTALLED: the browser tests of report.html will be SKIPPED !!!!!!"
	$(BIN)/python -m pytest

# The README's picture of the demo's report, taken by headless Chromium.
screenshot: demo chromium
	$(BIN)/python -m tests.report.chromium runs/demo/report.html docs/report.png

# Style, formatting, the layers of the package (import contract in pyproject.toml) and types.
lint: setup
	$(BIN)/ruff check curate tests benchmarks
	$(BIN)/ruff format --check curate tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

# Re-pin every dependency from pyproject.toml into requirements.lock (run after changing them).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable --disable-pip-version-check | grep -v -i -e '^curate' -e '^fast.langdetect' > requirements.lock
	.lock-venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	rm -rf .lock-venv

# Re-pin the Label Studio server's own environment.
lock-label-studio:
	rm -rf .lock-ls-venv && $(PYTHON) -m venv .lock-ls-venv
	.lock-ls-venv/bin/pip install --quiet --disable-pip-version-check 'label-studio==1.23.2'
	{ head -2 requirements-label-studio.lock; .lock-ls-venv/bin/pip freeze --disable-pip-version-check; } > requirements-label-studio.lock.new
	mv requirements-label-studio.lock.new requirements-label-studio.lock
	rm -rf .lock-ls-venv

clean:
	rm -rf $(VENV) $(LS_VENV) runs .pytest_cache
