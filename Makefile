# edgefleet: `make plan` and `make test` set everything up on a fresh machine (Python 3.11 to 3.13, and pip).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.edgefleet-installed
STACK  ?= dev

.PHONY: plan test lint typecheck unit validate check docs clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## plan: an offline plan of the example stack (no Pulumi CLI, no credentials)
plan: $(STAMP)
	@mkdir -p out
	$(BIN)/edgefleet plan $(STACK) --json out/plan-$(STACK).json --manifests out/manifests-$(STACK)

validate: $(STAMP)
	$(BIN)/edgefleet validate $(STACK)

## check: the policy pack over the offline plan (SARIF in out/)
check: $(STAMP)
	@mkdir -p out
	$(BIN)/edgefleet check $(STACK) --sarif out/check-$(STACK).sarif --json out/check-$(STACK).json

## docs: regenerate the generated tables (README rules, docs/cni.md) from the code
docs: $(STAMP)
	$(BIN)/python -m edgefleet.docs .

## test: ruff, mypy strict, pytest
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache .hypothesis
