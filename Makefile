# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint clean

setup: $(STAMP)

# re-installs only when setup.py (the pinned dependencies) changed
$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(VENV)/bin/mtlrec run --conf conf/local.yaml

# a native crash, even while the interpreter exits, prints each thread's Python stack
test: setup
	PYTHONFAULTHANDLER=1 $(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check mtlrec tests jobs bench examples
	$(VENV)/bin/mypy mtlrec

clean:
	rm -rf data build spark-warehouse metastore_db
