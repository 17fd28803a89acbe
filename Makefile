# Two entry points: `make run` (default scenario) and `make test` (the suite).
# Each creates .venv with Python >= 3.12 if it is missing and installs the project with its dev extras.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(PY):
	@set -e; for c in python3.12 python3.13 python3 $$(command -v pyenv >/dev/null && ls -d "$$(pyenv root)"/versions/3.1[2-9]*/bin/python3 2>/dev/null); do \
	  if $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	    echo "creating $(VENV) with $$c"; $$c -m venv $(VENV); exit 0; fi; \
	done; echo "error: no Python 3.12 or newer found (tried python3.12, python3.13, python3, pyenv)" >&2; exit 1

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) run.py run market --out results/market

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) benchmarks/bench_model.py

clean:
	rm -rf $(VENV) results
