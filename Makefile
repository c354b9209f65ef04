# Two commands on a fresh clone: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1

.PHONY: run serve test bench install install-dev migrate seed lint lock worker beat clean-db \
	topology topology-down scale-test

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

# Production settings under gunicorn (config/gunicorn.conf.py) against the services named in the
# environment: migrate, collect the static files (WhiteNoise serves them), serve on $(HOST):$(PORT).
# A local rehearsal of a deployment, so plain http and a throwaway signing key unless set; the
# personal data's keys are never made up here (data written under a lost key is lost with it).
SERVE_ENV := DJANGO_SETTINGS_MODULE=config.settings.production \
	DJANGO_SECURE_SSL_REDIRECT=$${DJANGO_SECURE_SSL_REDIRECT:-false} \
	DJANGO_ALLOWED_HOSTS=$${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost} \
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')}

serve: install
	@missing=""; for name in DATABASE_URL REDIS_URL CELERY_BROKER_URL FIELD_ENCRYPTION_KEYS BLIND_INDEX_KEY; do \
		[ -n "$$(printenv $$name)" ] || missing="$$missing $$name"; done; \
	if [ -n "$$missing" ]; then \
		echo "make serve runs the production settings and needs:$$missing (see .env.example;"; \
		echo "the two keys: docs/operations.md, \"Personal data encrypted at rest\")"; \
		exit 2; fi
	$(SERVE_ENV) $(BIN)/python manage.py migrate --noinput
	$(SERVE_ENV) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Serving on http://$(HOST):$(PORT)/ (health: /health/ready, metrics: /metrics)"
	$(SERVE_ENV) GUNICORN_BIND=$${GUNICORN_BIND:-$(HOST):$(PORT)} $(BIN)/gunicorn -c config/gunicorn.conf.py

test: install-dev
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/pytest $(PYTEST_ARGS)

# The hot paths against a bare-Django floor, as ratios (tests/benchmark/run.py, docs/performance.md).
# Needs wrk (Debian's package; installed here when missing and allowed).
bench: install-dev
	@command -v wrk >/dev/null 2>&1 || { sudo=""; [ "$$(id -u)" -ne 0 ] && sudo=sudo; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
	$(BIN)/python -m tests.benchmark.run

# The platform past one machine, on loopback (docs/scaling.md): a primary and a streaming
# replica, PgBouncer, two gunicorn app servers behind HAProxy, two Celery workers and beat,
# Redis and an SMTP sink, on ports from TOPOLOGY_PORT (default 18000), state in var/topology/.
# Needs Debian's postgresql-15, pgbouncer, haproxy and redis-server (.ci/run installs them).
topology: install-dev
	$(BIN)/python -m tests.scaling.topology up

topology-down:
	$(BIN)/python -m tests.scaling.topology down

# The topology under load while its parts fail, in a few minutes; prints its figures.
# SCALE_TEST_MUST_RUN=1 turns the skip for a missing program into a failure (.ci/run).
scale-test: install-dev
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/pytest -m scale -s \
		tests/scaling/test_scale.py $(PYTEST_ARGS)

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
