# The commands a newcomer types, and the ones CI calls. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
LOADER := static/proctorme/loader
PORT ?= 8000
HOST ?= 127.0.0.1

# mediapipe 0.10.21 and numpy 1.26 ship wheels for Python 3.11 and 3.12 only, so
# the first of python3.11, python3.12 and python3 that is one of those is used.
SUPPORTED_PY := import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))
PYTHON ?= $(firstword $(foreach p,python3.11 python3.12 python3,$(shell command -v $(p) >/dev/null 2>&1 && $(p) -c '$(SUPPORTED_PY)' 2>/dev/null && command -v $(p))))
NEED_PY := Proctorme needs Python 3.11 or 3.12 (mediapipe 0.10.21 and numpy 1.26 have no wheels for other versions): install one of them, or name it with make PYTHON=/path/to/python3.12

.PHONY: help lock run run-prod test mutate escapes lint format bench eval venv dev worker clean loader

## make help: this list
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

$(PY):
	@test -n "$(PYTHON)" && $(PYTHON) -c '$(SUPPORTED_PY)' 2>/dev/null || { echo "$(NEED_PY)."; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Installs come from the locks (every package pinned, hashes checked); requirements*.txt
# are what the locks are made from (make lock).
$(VENV)/.installed: requirements.lock | $(PY)
	@$(PY) -c '$(SUPPORTED_PY)' || { echo "$(VENV) runs $$($(PY) -V). $(NEED_PY), then remove $(VENV)."; exit 1; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock $(VENV)/.installed
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	touch $@

PIP_TOOLS := pip-tools==7.6.2
LOCK_OPTIONS := --quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links

## make lock: re-make requirements.lock and requirements-dev.lock (pip-compile) after changing requirements*.txt
lock: | $(PY)
	$(PY) -m pip install -q $(PIP_TOOLS)
	$(VENV)/bin/pip-compile $(LOCK_OPTIONS) --output-file requirements.lock requirements.txt
	$(VENV)/bin/pip-compile $(LOCK_OPTIONS) --constraint requirements.lock --output-file requirements-dev.lock requirements-dev.txt

## make venv: the runtime packages (requirements.lock) in .venv
venv: $(VENV)/.installed

## make dev: the runtime plus tests, linters and benchmark clients (requirements-dev.lock)
dev: $(VENV)/.installed-dev

## make run: the product on http://127.0.0.1:8000 (HOST=, PORT= to change) with the embedded defaults and demo data
run: venv
	@mkdir -p var
	$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py seed_demo > var/demo.txt
	@$(PY) manage.py seed_demo_sessions || { echo "make run: seeding the demo sessions failed (above)."; exit 1; }
	@PORT=$(PORT) HOST=$(HOST) $(PY) manage.py demo_banner
	DEBUG=$${DEBUG:-1} SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(PY) manage.py runserver $(HOST):$(PORT) --noreload

## make test: every test in a shuffled order (the seed is printed; PYTEST_ARGS="--randomly-seed=N" replays it), then line and branch coverage per package; parts that are absent are skipped with a reason
test: dev $(if $(shell command -v npm),node_modules/.installed $(LOADER)/dist/index.js)
	$(VENV)/bin/pytest --cov --cov-report= $(PYTEST_ARGS)
	@$(PY) .ci/coverage_by_package.py

## make mutate: mutation testing (mutmut) of signing, tenancy, upload, episode and score modules, one module at a time against its own tests (MODULES="sessions.uploads analysis.trust" for some); docs/testing.md
mutate: dev
	$(PY) .ci/mutate.py $(MODULES)

## make escapes: the deliberate bugs that once escaped the tests (tenancy filters, signatures, the upload duplicate check, a minimum duration), put in one at a time: each must be caught (CI runs it)
escapes: dev
	$(PY) .ci/escapes.py

# Node packages are development tools only (eslint, axe-core for the browser tests): the server never needs them.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "make lint needs Node.js 20 or later with npm (Debian: apt-get install nodejs npm)."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## make loader: build the npm loader package (@proctorme/loader) into static/proctorme/loader/dist
loader: $(LOADER)/dist/index.js

$(LOADER)/dist/index.js: $(LOADER)/src/index.ts $(LOADER)/tsconfig.json $(LOADER)/package.json static/proctorme/widget.d.ts node_modules/.installed
	cp static/proctorme/widget.d.ts $(LOADER)/src/widget.d.ts
	node_modules/.bin/tsc -p $(LOADER)
	cp static/proctorme/widget.d.ts $(LOADER)/dist/widget.d.ts

## make lint: ruff (style and format), the import rules of docs/architecture.md (lint-imports), eslint (the widget's modules and the script they assemble into), tsc (the loader package's types)
lint: dev node_modules/.installed $(LOADER)/dist/index.js
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	node_modules/.bin/eslint static/proctorme/src
	@mkdir -p var
	$(PY) manage.py widget_script > var/widget.assembled.js
	node_modules/.bin/eslint --no-inline-config --stdin --stdin-filename assembled/widget.js < var/widget.assembled.js
	node_modules/.bin/tsc -p $(LOADER)/test

## make format: reformat and apply ruff's safe fixes
format: dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## make bench: the speed figures, each as a ratio against a baseline measured in the same run
bench: dev
	@for script in bench/[!_]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## make eval: detectors on the held-apart report half beside the bare call; regenerates docs/accuracy.md
eval: dev
	$(PY) eval/accuracy.py --card docs/accuracy.md $(EVAL_ARGS)

## make run-prod: the production topology here (ASGI=2 WORKERS=1 PORT=8000): PostgreSQL and Redis as they run on this machine, HAProxy, uvicorn, Celery; Ctrl-C stops all
run-prod: venv
	$(PY) deploy/topology.py --asgi $${ASGI:-2} --workers $${WORKERS:-1} --port $(PORT) --bind $(HOST)

## make worker: a Celery worker (production configuration: REDIS_URL set)
worker: venv
	$(VENV)/bin/celery -A proctorme worker -B -l info

## make clean: remove var/ (the embedded database, media, demo keys) and caches
clean:
	rm -rf var .pytest_cache
