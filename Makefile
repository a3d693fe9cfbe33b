# placerisk: two commands from a fresh clone.
#   make demo   build a synthetic demo database and serve the map on http://127.0.0.1:8000
#   make test   install the dev extras and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
DEMO_DB ?= demo.db
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install demo test bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/placerisk --db $(DEMO_DB) demo-data
	$(BIN)/placerisk --db $(DEMO_DB) score
	@echo "placerisk demo: open http://$(HOST):$(PORT)/  (synthetic data; Ctrl-C to stop)"
	$(BIN)/placerisk --db $(DEMO_DB) serve --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest

bench: install
	$(PY) bench/run.py

lint: install
	$(BIN)/ruff check geo layers maps api tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm .pytest_cache
