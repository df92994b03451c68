# make setup      create .venv, install requirements.txt, fetch MNIST and FashionMNIST (idempotent)
# make reproduce  run every task script, in report order
# make test       run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SCRIPTS := task1_train_mnist.py task2_examine.py task3_greek.py task4_experiment.py ext_alexnet.py

.PHONY: setup reproduce test clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

setup: $(VENV)/.installed
	$(PY) -c "import dataio; dataio.provision('MNIST'); dataio.provision('FashionMNIST')"

reproduce: setup
	@for s in $(SCRIPTS); do \
	  if [ -f $$s ]; then echo "== $$s"; $(PY) $$s || exit $$?; fi; \
	done

test: setup
	$(PY) -m pytest -q tests

clean:
	rm -rf outputs .pytest_cache
