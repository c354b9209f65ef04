# Two commands on a fresh clone: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1

.PHONY: run test bench install install-dev migrate seed lint lock worker beat clean-db

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when the pinned requirements change.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py refresh_analytics

run: seed
	@echo ""
	@echo "Serving on http://$(HOST):$(PORT)/"
	@echo "  booking pages   http://$(HOST):$(PORT)/"
	@echo "  staff admin     http://$(HOST):$(PORT)/admin/"
	@echo "  staff calendar  http://$(HOST):$(PORT)/admin/calendar/"
	@echo "  dashboard       http://$(HOST):$(PORT)/admin/analytics/"
	@echo "  metrics         http://$(HOST):$(PORT)/metrics"
	@echo "  customer emails var/mail/ (one file per email, with its .ics)"
	@echo ""
	PORT=$(PORT) $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install-dev
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/pytest $(PYTEST_ARGS)

# The hot paths against a bare-Django floor, as ratios (tests/benchmark/run.py, docs/performance.md).
# Needs wrk (Debian's package; installed here when missing and allowed).
bench: install-dev
	@command -v wrk >/dev/null 2>&1 || { sudo=""; [ "$$(id -u)" -ne 0 ] && sudo=sudo; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
	$(BIN)/python -m tests.benchmark.run

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Recompile the pinned requirements after editing requirements*.in.
lock: install-dev
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links -o requirements-dev.txt requirements-dev.in

# A Celery worker and beat against CELERY_BROKER_URL (see README). The worker consumes every queue
# unless told: `make worker QUEUES=housekeeping` (docs/operations.md, "Celery").
worker: install
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/celery -A config worker --loglevel=INFO $(if $(QUEUES),--queues=$(QUEUES))

beat: install
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/celery -A config beat --loglevel=INFO

# Stop the embedded PostgreSQL and delete its data.
clean-db: install
	-$(BIN)/python -c "import pgserver; pgserver.get_server('.pgdata', cleanup_mode='delete')"
	rm -rf .pgdata
