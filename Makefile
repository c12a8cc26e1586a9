# make setup: .venv/ with the project installed (idempotent; a no-op when nothing changed)
# make demo:  stylize the bundled example and say where the result is
# make test:  the whole test suite
# make lint:  ruff and mypy
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.impasto-installed
# The CPU build of torch 2.13.0 (the project needs torch>=2.1). Installing it first keeps pip
# from resolving "torch" to the newest CUDA build, several GB, on a machine without a GPU.
TORCH  ?= torch==2.13.0
DEMO_OUT := out/demo.png

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "could not create $(VENV): on Debian, install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	@touch $(STAMP)

demo: setup
	@mkdir -p out
	$(BIN)/impasto stylize daemon/impasto/examples/astronaut.png daemon/impasto/examples/hubble.png \
	  -o $(DEMO_OUT) --size 256 --iterations 150 --preview-dir out/demo-previews --preview-every 25
	@echo "The result is $(abspath $(DEMO_OUT)); intermediate images are in $(abspath out/demo-previews)/"

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	@echo "see benchmarks/README.md for the individual benchmarks"

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache
