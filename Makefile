# Two commands do everything on a fresh machine with python3.11 + pip: `make run`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
INPUT  ?= seeds
OUTPUT ?= data
BENCH_N ?= 10000

.PHONY: help install run test test-all eval bench lint fmt dashboard test-dashboard serve status clean

help:
	@echo "make run             install (first time) and build the dataset from $(INPUT)/ into $(OUTPUT)/"
	@echo "make test            fast test suite (a few minutes)"
	@echo "make eval            score the claim extractor against eval/seeds_gold"
	@echo "make bench           benchmark on a generated corpus (BENCH_N=$(BENCH_N))"
	@echo "make test-all        every test, including slow ones"
	@echo "make lint            ruff"

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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

status: $(STAMP)
	$(BIN)/claimscope status --output $(OUTPUT)

clean:
	rm -rf $(OUTPUT) .prefect .pytest_cache
