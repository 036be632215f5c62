# qa: `make run` starts the chat app, `make test` runs the tests. Both set up .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# This machine's pip prints one "Location ... is ignored" warning per package: noise.
QUIET_PIP := grep -v "is ignored: it is neither a file nor a directory" || true

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing qa and its dependencies into $(VENV) (torch: CPU build, see constraints.txt)"
	@$(PY) -m pip install -q -c constraints.txt -e ".[test]" 2>&1 | $(QUIET_PIP)
	@$(PY) -c "import qa, faiss, sentence_transformers, gradio" 
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install qa with its dependencies

run: install ## start the chat app on http://127.0.0.1:7860
	$(PY) app.py

test: install ## run the test suite (real model, real article)
	$(PY) -m pytest

load: install ## load test: 50 concurrent API users x 20 questions against the app on loopback
	$(PY) scripts/load_test.py --users 50 --questions 20

bench: install ## benchmark: latency vs its floor, build rate, cold start, memory (FULL=1: 100k, 1M passages)
	@# The large corpora are Debian's package descriptions; fetch apt's English index if missing.
	@ls /var/lib/apt/lists/*Translation-en* >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] \
		|| apt-get update -qq -o Acquire::Languages=en
	$(PY) bench/run.py $(if $(FULL),--full)

check: install ## lint, format check and type check
	$(VENV)/bin/ruff check qa tests bench scripts app.py
	$(VENV)/bin/ruff format --check qa tests bench scripts app.py
	$(VENV)/bin/mypy qa

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis

.PHONY: help install run test load bench check clean
