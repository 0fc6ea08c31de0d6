# The commands a newcomer types, and the ones CI calls.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test lint format bench venv worker clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

## make run: the product on http://$(HOST):$(PORT) with the embedded defaults
run: venv
	@mkdir -p var
	$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py seed_demo > var/demo.txt
	@$(PY) manage.py seed_demo_sessions > var/demo-sessions.txt 2>&1 || echo "demo sessions not seeded: see var/demo-sessions.txt"
	@PORT=$(PORT) HOST=$(HOST) $(PY) manage.py demo_banner
	DEBUG=$${DEBUG:-1} SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(PY) manage.py runserver $(HOST):$(PORT) --noreload

## make test: every test; parts that are absent are skipped with a reason
test: venv
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: venv
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## make worker: a Celery worker (production configuration: REDIS_URL set)
worker: venv
	$(VENV)/bin/celery -A proctorme worker -B -l info

clean:
	rm -rf var .pytest_cache
