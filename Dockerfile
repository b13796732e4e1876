# The CRM image: web (gunicorn), worker and beat all run from it; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# gettext compiles the translation catalogs (locale/*.po) at build time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 crm

# Dependencies first (a cached layer while pyproject.toml is unchanged), then the project itself,
# installed in place: templates/, static/ and locale/ live next to the packages.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY . .
RUN pip install --no-deps -e . \
    && DJANGO_STATIC_MANIFEST=1 python manage.py collectstatic --noinput -v 0 \
    && if ls locale/*/LC_MESSAGES/*.po >/dev/null 2>&1; then \
         python manage.py compilemessages -v 0 --ignore .venv; fi \
    && mkdir -p var \
    && chown -R crm:crm /app

USER crm
EXPOSE 8000
CMD ["gunicorn", "crm.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
