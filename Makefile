# Shortcuts for developers and operators (POSIX make). `make run` and `make test` are all a new
# developer needs; see README.md.
.POSIX:
.SUFFIXES:

PYTHON = python3
VENV = .venv
PY = $(VENV)/bin/python
MANAGE = $(PY) manage.py
ADDR = 127.0.0.1:8000
PYTEST_ARGS =
# Extra options of `python -m benchmarks`: make bench ARGS="--rebuild --only rescore"
ARGS =
PIP = $(PY) -m pip install -q --disable-pip-version-check
# Stamps: reinstall only when pyproject.toml changes (or the venv is new).
APP_STAMP = $(VENV)/.installed
DEV_STAMP = $(VENV)/.installed-dev

PG_START = pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
REDIS_START = redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
	--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
PG_UP = pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1
REDIS_UP = redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1
# apt-get as root, or through sudo.
APT = $$([ "$$(id -u)" -eq 0 ] || echo sudo) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: help run test lint format worker beat demo migrate messages schema-check clean \
	install install-dev services chromium wrk compilemessages bench bench-small reliability

help:
	@echo "make run           set up, migrate, seed demo data on an empty database, serve $(ADDR)"
	@echo "make test          the whole test suite (browser tests too) on Postgres and Redis"
	@echo "make bench         performance targets on 1,000,000 leads (ARGS=--small|--rebuild …)"
	@echo "make bench-small   the same scenarios on 20,000 leads, in under 2 minutes (CI)"
	@echo "make reliability   API fuzzing, races, worker crashes, security checks (CI runs it)"
	@echo "make lint|format   ruff check / ruff format"
	@echo "make worker|beat   Celery worker / beat (needs REDIS_URL)"
	@echo "make demo          seed demo users and records (skips a database that has users)"
	@echo "make migrate       apply database migrations"
	@echo "make messages      update and compile the es/en translation catalogs (needs gettext)"
	@echo "make schema-check  migrations match the models; the OpenAPI schema validates"
	@echo "make clean         remove caches and collected static files"

# --- environment ---------------------------------------------------------------------------------

install: $(APP_STAMP)
install-dev: $(DEV_STAMP)

$(APP_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "make: installing the project into $(VENV)"
	@$(PIP) -e .
	@touch $@

$(DEV_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "make: installing the project with its dev dependencies into $(VENV)"
	@$(PIP) -e '.[dev]'
	@touch $(APP_STAMP) $@

# --- run -----------------------------------------------------------------------------------------

run: $(APP_STAMP)
	@$(MANAGE) migrate --noinput -v 0
	@$(MANAGE) collectstatic --noinput -v 0
	@$(MANAGE) seed_demo
	@$(MANAGE) runserver $(ADDR)

migrate: $(APP_STAMP)
	@$(MANAGE) migrate --noinput

demo: migrate
	@$(MANAGE) seed_demo

worker: $(APP_STAMP)
	@$(VENV)/bin/celery -A crm worker -l info

beat: $(APP_STAMP)
	@$(VENV)/bin/celery -A crm beat -l info -s var/celerybeat-schedule

# --- quality -------------------------------------------------------------------------------------

test: $(DEV_STAMP) services chromium compilemessages
	@$(PY) -m pytest --ignore=tests/reliability $(PYTEST_ARGS)

# tests/reliability (schemathesis over the OpenAPI schema, headers, rate limits, probes, logs,
# mass assignment), the concurrency tests of the suite, and the deploy check with
# production settings.
reliability: $(DEV_STAMP) services compilemessages
	@env -u DATABASE_URL -u REDIS_URL -u DJANGO_HTTPS DJANGO_DEBUG=0 \
		DJANGO_SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')" \
		$(MANAGE) check --deploy --fail-level WARNING
	@$(PY) -m pytest tests -m "reliability or concurrency" $(PYTEST_ARGS)

# Benchmarks on their own database (crm_bench): see benchmarks/README.md. Exit 1 on a missed target.
bench: $(DEV_STAMP) services wrk
	@$(PY) -m benchmarks $(ARGS)

bench-small: $(DEV_STAMP) services wrk
	@$(PY) -m benchmarks --small $(ARGS)

services:
	@$(PG_UP) || { echo "make: starting PostgreSQL"; $(PG_START) || true; }
	@$(REDIS_UP) || { echo "make: starting Redis"; $(REDIS_START) || true; }
	@i=0; until $(PG_UP) && $(REDIS_UP); do \
		i=$$((i + 1)); \
		if [ $$i -ge 30 ]; then echo "make: PostgreSQL or Redis does not answer" >&2; exit 1; fi; \
		sleep 1; \
	done

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "make: installing Debian's chromium for the browser tests"; \
		$(APT) update -qq && $(APT) install -y -qq chromium >/dev/null; }

# The HTTP load generator of the API benchmarks.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		echo "make: installing Debian's wrk for the benchmarks"; \
		$(APT) update -qq && $(APT) install -y -qq wrk >/dev/null; }

# Compiled catalogs (.mo) are build output: refresh them from the .po files when there are any.
compilemessages: $(APP_STAMP)
	@if ls locale/*/LC_MESSAGES/*.po >/dev/null 2>&1; then \
		command -v msgfmt >/dev/null 2>&1 || { $(APT) update -qq && \
			$(APT) install -y -qq gettext >/dev/null; }; \
		$(MANAGE) compilemessages -v 0 --ignore '$(VENV)' --ignore node_modules; \
	fi

lint: $(DEV_STAMP)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

format: $(DEV_STAMP)
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

messages: $(APP_STAMP)
	@$(MANAGE) makemessages -l es -l en --no-obsolete -v 0 --ignore '$(VENV)' \
		--ignore node_modules --ignore static --ignore staticfiles --ignore tests --ignore var
	@$(MANAGE) compilemessages -v 0 --ignore '$(VENV)' --ignore node_modules

schema-check: $(APP_STAMP)
	@$(MANAGE) makemigrations --check --dry-run
	@f=$$(mktemp); $(MANAGE) spectacular --validate --fail-on-warn --file "$$f"; \
		rc=$$?; rm -f "$$f"; exit $$rc

clean:
	@rm -rf staticfiles .pytest_cache .ruff_cache test-results build
	@find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
