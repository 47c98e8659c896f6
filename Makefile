# Every target creates the virtual environment on first use, so a fresh clone needs only
# python3 (3.11 or newer) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format clean bench bench-smoke

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/datastreams demo --exit-when-done

# Browser tests drive Debian's Chromium; Playwright's own browser download is not used.
CHROMIUM := /usr/bin/chromium

# Kinesis tests also run against kinesis-local (npm); without Node.js they skip with the
# reason, and fail in CI. Browser tests fail with a clear message without Chromium.
test: $(STAMP)
	-bash scripts/install-chromium.sh $(CHROMIUM)
	-bash scripts/install-kinesis-local.sh
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# Every scenario at full size; writes bench/results/ and docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench run --size full

# Every scenario at a tiny size: checks that each completes and delivers every event.
bench-smoke: $(STAMP)
	$(BIN)/python -m bench run --size small --no-report --results-dir "$$(mktemp -d)"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
