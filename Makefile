VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run test lint soak install install-dev bench clean db-upgrade migration

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt bench/requirements.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## Serve http://127.0.0.1:5000 (HOST and PORT override); start-up applies the schema migrations.
run: install
	$(PY) app.py

## Apply the schema migrations to DATABASE_URL (for nodes started with IM_AUTO_MIGRATE=false).
db-upgrade: install
	IM_AUTO_MIGRATE=false $(VENV)/bin/flask --app 'im:create_app()' db upgrade

## After changing models: write the next migration (MESSAGE="..."), read it, commit it.
migration: install
	IM_AUTO_MIGRATE=false $(VENV)/bin/flask --app 'im:create_app()' db upgrade
	IM_AUTO_MIGRATE=false $(VENV)/bin/flask --app 'im:create_app()' db migrate -m "$(MESSAGE)"

## The whole test suite.
test: install-dev
	$(PY) -m pytest

## ruff's lint and format check, then mypy (its settings are in pyproject.toml); all three run, any finding fails.
lint: install-dev
	@status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/ruff format --check . || status=1; \
	$(VENV)/bin/mypy || status=1; \
	exit $$status

$(VENV)/.installed-bench: bench/requirements.txt $(VENV)/.installed
	$(PY) -m pip install -q -r bench/requirements.txt
	touch $@

bench/node_modules/.package-lock.json: bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund

## Benchmark: the server beside a bare Flask-SocketIO relay (see docs/performance.md); BENCH_ARGS="--size small".
## 5,000 sockets need as many descriptors in the server and in the load generator, hence the ulimit.
bench: $(VENV)/.installed-bench bench/node_modules/.package-lock.json
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); $(PY) bench/run.py $(BENCH_ARGS)

## Ten minutes of mixed load with reconnect churn (SOAK_SECONDS to change); not part of `make test`.
## Reports the server's resident memory over time; fails on a lost message or RSS growing > 20% after warm-up.
soak: install-dev
	$(PY) -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
