VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run test soak install install-dev bench clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## Serve http://127.0.0.1:5000 (HOST and PORT override); the database is created on first start.
run: install
	$(PY) app.py

## The whole test suite.
test: install-dev
	$(PY) -m pytest

## Ten minutes of mixed load with reconnect churn (SOAK_SECONDS to change); not part of `make test`.
## Reports the server's resident memory over time; fails on a lost message or RSS growing > 20% after warm-up.
soak: install-dev
	$(PY) -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache
