# ELV bed desk: one image for the web process (gunicorn), the Celery worker and Celery beat.
# See docker-compose.yml for how they are started.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so a code change does not reinstall them: exactly the locked set, every
# package checked against its hash (requirements/app.txt, written by `make lock`). The project
# itself is not a package (pyproject has `packages = []`).
COPY requirements/app.txt ./requirements/app.txt
RUN pip install --require-hashes -r requirements/app.txt

COPY . .

# Compiled translations (.mo) are committed, so the image needs no gettext.
RUN useradd --system --uid 10001 --home-dir /app --no-create-home elvdesk \
    && mkdir -p /app/staticfiles \
    && chown elvdesk /app/staticfiles
USER elvdesk

EXPOSE 8000
CMD ["gunicorn", "elvdesk.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
