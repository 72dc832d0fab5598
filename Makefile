# Two entry points: `make demo` and `make test`. Both build .venv/ from the pinned lock file first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint lock clean

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

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check curate tests benchmarks
	$(BIN)/mypy

# Re-pin every dependency from pyproject.toml into requirements.lock (run after changing them).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	.lock-venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	.lock-venv/bin/pip freeze --exclude-editable --disable-pip-version-check | grep -v -i -e '^curate' -e '^fast.langdetect' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) runs .pytest_cache
