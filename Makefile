# Two commands do everything on a fresh machine with python3.11 + pip: `make run`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
INPUT  ?= seeds
OUTPUT ?= data
BENCH_N ?= 10000
CRON   ?= 0 6 * * *
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BENCH_ARGS ?= --peers --incremental --workers-compare --cache-compare
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: help install run test test-all eval bench bench-smoke lint fmt dashboard test-dashboard serve status clean

help:
	@echo "make run             install (first time) and build the dataset from $(INPUT)/ into $(OUTPUT)/"
	@echo "make test            fast test suite (a few minutes)"
	@echo "make eval            score the claim extractor against eval/seeds_gold"
	@echo "make bench           benchmark on a generated corpus (BENCH_N=$(BENCH_N)); results in bench-data/"
	@echo "make bench-smoke     the harness on 500 articles in batches of 100, without the peer splitters"
	@echo "make test-all        every test, including slow ones"
	@echo "make lint            ruff"
	@echo "make dashboard       regenerate $(OUTPUT)/dashboard/index.html"
	@echo "make serve           build on a schedule (CRON='$(CRON)') until stopped"
	@echo "make status          age, last run and validation of $(OUTPUT)/ (exit 1 stale/failed, 2 none)"
	@echo "make test-dashboard  the dashboard in headless Chromium (installs Debian chromium if missing)"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/claimscope build --input $(INPUT) --output $(OUTPUT)

test: $(STAMP)
	$(BIN)/pytest -q -m "not slow and not browser"

test-all: $(STAMP)
	$(BIN)/pytest -q

eval: $(STAMP)
	$(BIN)/claimscope eval

# The optional `bench` extra (spaCy and pySBD as peers, psutil), pinned in constraints.txt like the rest.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run --n $(BENCH_N) $(BENCH_ARGS)

bench-smoke: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run --n 500 --batch-docs 100 --incremental --workers-compare --out bench-data/smoke

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

status: $(STAMP)
	$(BIN)/claimscope status --output $(OUTPUT)

dashboard: $(STAMP)
	$(BIN)/claimscope dashboard --output $(OUTPUT)

serve: $(STAMP)
	$(BIN)/claimscope serve --input $(INPUT) --output $(OUTPUT) --cron "$(CRON)"

# The dashboard in a real headless Chromium (Debian's package; installed here if missing, the only network use).
test-dashboard: $(STAMP)
	test -x /usr/bin/chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }
	CLAIMSCOPE_REQUIRE_BROWSER=1 CLAIMSCOPE_SCREENSHOT=$(OUTPUT)/dashboard/screenshot.png $(BIN)/pytest -q -m browser
	@echo "screenshot: $(OUTPUT)/dashboard/screenshot.png"

clean:
	rm -rf $(OUTPUT) .prefect .pytest_cache
