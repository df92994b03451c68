# make setup      create .venv, install requirements.txt, fetch MNIST and FashionMNIST (idempotent)
# make reproduce  run every task in report order, write outputs/REPORT.md and REPORT.pdf (QUICK=1: 2 min)
# make test       ruff, then the whole test suite
# make test-quick ruff, then the unit tests: no real dataset, no subprocess, server or browser (under 45 s)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup reproduce test test-quick clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

setup: $(VENV)/.installed
	$(PY) -c "from recognition import download; download.provision('MNIST'); download.provision('FashionMNIST')"

reproduce: setup
	$(PY) reproduce.py $(if $(QUICK),--quick,)

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q tests

test-quick: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 -m "not integration and not slow" tests

clean:
	rm -rf outputs .pytest_cache
