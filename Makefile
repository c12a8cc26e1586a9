# make setup: .venv/ with the project and its test, lint, cluster and training extras (idempotent;
#             a no-op when nothing changed)
# make demo:  .venv/ with what stylizing needs and nothing more, then stylize the bundled example
#             and say where the result is
# make test:  the whole test suite
# make lint:  ruff and mypy
# make gpu-check: the CUDA-only tests and the GPU figures (benchmarks/gpu_check.py; under 8 min on
#                 one H100/H200, results in benchmarks/results/gpu/); without CUDA it says so, exits 0.
#                 GPU_PYTHON=python3: that Python (with CUDA torch and the dependencies), no .venv,
#                 the packages from this checkout (a machine without network: docs/development.md)
# make figures: measure every figure README.md and benchmarks/RESULTS.md state, quick variants
#               (about 30 min on 2 cores, one after another), then rewrite their regions;
#               make figures-full: the full variants (hours); make figures-render: only rewrite
#               the regions from the committed result files (benchmarks/figures.py)
# make reliability: the reliability and security suites at full size (about 2 h 40 min, not part
#                   of `make test`), then RELIABILITY.md; one suite: make reliability-load
#                   (-engines, -faults, -hostile, -soak, -security), then make reliability-report
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.impasto-installed
BASE   := $(VENV)/.impasto-base
# The CPU build of torch 2.13.0 (the project needs torch>=2.1). Installing it first keeps pip
# from resolving "torch" to the newest CUDA build, several GB, on a machine without a GPU.
TORCH  ?= torch==2.13.0
DEMO_OUT := out/demo.png
# The demo's summary (`impasto stylize --json`): benchmarks/readme_figure.py writes the README's
# caption record from it.
DEMO_RUN := out/demo.json

.PHONY: setup base demo test lint bench gpu-check figures figures-full figures-render clean \
	reliability reliability-report \
	reliability-load reliability-engines reliability-faults reliability-hostile reliability-soak \
	reliability-security

setup: $(STAMP)
base: $(BASE)

# What stylizing needs: torch first (see TORCH), then the project without extras.
$(BASE): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "could not create $(VENV): on Debian, install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $(BASE)

# Then what the tests, the linters, clusters and `impasto train`'s photos need.
$(STAMP): $(BASE)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev,cluster,train]'
	@touch $(STAMP)

demo: base
	@mkdir -p out
	$(BIN)/impasto stylize daemon/impasto/examples/astronaut.png daemon/impasto/examples/hubble.png \
	  -o $(DEMO_OUT) --size 256 --iterations 150 --preview-dir out/demo-previews --preview-every 25 \
	  --json > $(DEMO_RUN)
	@echo "The result is $(abspath $(DEMO_OUT)); intermediate images are in $(abspath out/demo-previews)/"

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

GPU_PYTHON ?=
gpu-check: $(if $(GPU_PYTHON),,setup)
	@$(if $(GPU_PYTHON),PYTHONPATH=$(CURDIR)/daemon:$(CURDIR)/protocol$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PYTHON),$(BIN)/python) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

# One after another, never in parallel: each timing assumes the machine to itself.
figures: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m benchmarks.figures --quick

figures-full: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m benchmarks.figures --full

figures-render: setup
	$(BIN)/python -m benchmarks.figures --render

bench: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	@echo "see benchmarks/README.md for the individual benchmarks"

RELIABILITY_SUITES := load engines faults hostile security soak

# One after another (never in parallel: each suite's figures assume the machine to itself).
reliability: setup
	@for suite in $(RELIABILITY_SUITES); do $(MAKE) --no-print-directory reliability-$$suite || exit 1; done
	$(MAKE) --no-print-directory reliability-report

reliability-load: setup
	$(BIN)/python -m benchmarks.reliability.load --clients 32 --processes 4 --duration 120

reliability-engines: setup
	$(BIN)/python -m benchmarks.reliability.load --clients 32 --processes 4 --duration 120 \
	  --devices cpu,cpu --out benchmarks/results/reliability/engines.json

reliability-faults: setup
	$(BIN)/python -m benchmarks.reliability.faults --trials 5

reliability-hostile: setup
	$(BIN)/python -m benchmarks.reliability.hostile --decoder-inputs 100000 --socket-inputs 10000

reliability-security: setup
	$(BIN)/python -m benchmarks.reliability.security --attempts 5

reliability-soak: setup
	$(BIN)/python -m benchmarks.reliability.soak --duration 7200

reliability-report: setup
	$(BIN)/python -m benchmarks.reliability.report

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache
