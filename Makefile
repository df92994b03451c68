# make setup      create .venv, install requirements.txt, fetch MNIST and FashionMNIST (idempotent)
# make reproduce  run every task in report order and write outputs/REPORT.md (QUICK=1: a few minutes)
# make test       run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup reproduce test clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

setup: $(VENV)/.installed
	$(PY) -c "import dataio; dataio.provision('MNIST'); dataio.provision('FashionMNIST')"

reproduce: setup
	$(PY) reproduce.py $(if $(QUICK),--quick,)

test: setup
	$(PY) -m pytest -q tests

clean:
	rm -rf outputs .pytest_cache
