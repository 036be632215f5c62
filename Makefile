# qa: `make run` starts the chat app, `make test` runs the tests. Both set up .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# PyTorch's CPU wheel index: the --extra-index-url line of requirements.txt, unless set
# here (TORCH_INDEX=... make install). scripts/install.py probes it and falls back to
# this machine's pip configuration when it cannot be reached.
TORCH_INDEX ?=

help: ## list the targets
	@# Columns as wide as the longest target name, so every description lines up.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' \
		'{ names[NR] = $$1; says[NR] = $$2; if (length($$1) > w) w = length($$1) } \
		END { for (i = 1; i <= NR; i++) printf "  make %-*s  %s\n", w, names[i], says[i] }'

$(STAMP): pyproject.toml constraints.txt requirements.txt scripts/install.py
	@test -x $(PY) || { echo "Creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	@$(PY) scripts/install.py $(if $(TORCH_INDEX),--torch-index $(TORCH_INDEX))
	@echo "Checking that qa and its dependencies import (PyTorch takes a few seconds)"
	@$(PY) -c "import qa, faiss, sentence_transformers, gradio, onnxruntime"
	@touch $(STAMP)
	@echo "Ready: make run serves the chat; in a new shell, source $(VENV)/bin/activate to use qa."

install: $(STAMP) ## create .venv and install qa with its dependencies

run: install ## start the chat app on http://127.0.0.1:7860
	$(PY) app.py

test: install ## run the test suite (real model, real article), one worker per core up to 4
	@# Files are spread over workers whole, so a module's served app starts once.
	$(PY) -m pytest -n auto --maxprocesses 4 --dist loadfile

test-fast: install ## the tests that need no browser, served app or real model (~2 min)
	$(PY) -m pytest -n auto --maxprocesses 4 --dist loadfile -m "not slow and not browser"

load: install ## load test: 50 concurrent API users x 20 questions against the app on loopback
	$(PY) scripts/load_test.py --users 50 --questions 20

bench: install ## benchmark: latency vs its floor, build rate, cold start, memory (FULL=1: 100k, 1M passages)
	@# The large corpora are Debian's package descriptions; fetch apt's English index if missing.
	@ls /var/lib/apt/lists/*Translation-en* >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] \
		|| apt-get update -qq -o Acquire::Languages=en
	$(PY) bench/run.py $(if $(FULL),--full)

screenshots: install ## the browser test's screenshots, light and dark, desktop and phone, into docs/screenshots
	QA_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/test_browser.py -q -k "answer_comes_first or overview or pasted_link"

check: install ## lint, format check and type check
	$(VENV)/bin/ruff check qa tests bench scripts app.py
	$(VENV)/bin/ruff format --check qa tests bench scripts app.py
	$(VENV)/bin/mypy qa

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis

.PHONY: help install run test test-fast load bench screenshots check clean
