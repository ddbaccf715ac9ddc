# WithUs production image: gunicorn web workers, or the one scheduler, from the same image.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WITHUS_ENV=production \
    WITHUS_INSTANCE_PATH=/var/lib/withus

WORKDIR /app

# Dependencies first, exactly as locked (every version pinned, every file's hash checked),
# so code changes don't reinstall them. requirements.lock: `make lock`; `make audit`.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY channels ./channels
COPY surveys ./surveys
COPY storage ./storage
RUN pip install --no-deps . \
    && pip check \
    && useradd --system --uid 10001 --home-dir /var/lib/withus --create-home withus

USER withus
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"

# Web workers by default; the compose file runs `withus scheduler` from the same image.
CMD ["withus", "web", "--workers", "4", "--bind", "0.0.0.0:8000"]
