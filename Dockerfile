# Mengchong backend: one container on a small VM.
#
#   docker build -t mengchong .
#   docker run -d -p 8080:8080 -v mengchong-data:/app/data mengchong # migrate, then serve
#   docker run --rm -v mengchong-data:/app/data mengchong migrate    # only create / upgrade the schema
#
# Settings: /app/config.toml (the embedded default: SQLite and local files under /app/data,
# in-process cache and queue) overridden by MENGCHONG__SECTION__KEY variables, e.g.
# -e MENGCHONG__DATABASE__URL=postgres://... -e MENGCHONG__CACHE__URL=redis://...
# Production (MENGCHONG__APP__ENV=production) refuses to start without a real JWT secret and
# WeChat credentials.

# One pinned base for both stages: the venv's interpreter links must match at run time.
FROM python:3.11.14-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1


FROM base AS build

WORKDIR /src
# Only what the wheel is built from (.dockerignore keeps the rest out of the context).
COPY pyproject.toml README.md ./
COPY mengchong ./mengchong
COPY plugins ./plugins
RUN python -m venv /opt/venv \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-cache-dir /wheels/mengchong-*.whl


FROM base AS runtime

# A fixed, numeric uid/gid: volume ownership stays stable across rebuilds and orchestrators can
# check runAsNonRoot. A bind-mounted /app/data must be writable by 10001.
RUN groupadd --system --gid 10001 mengchong \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
        --home-dir /app --no-create-home --shell /usr/sbin/nologin mengchong

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
COPY config.toml /app/config.toml
# The SQLite file (data/mengchong.sqlite3) and uploaded files (data/files) of config.toml.
RUN mkdir -p /app/data && chown 10001:10001 /app/data && chmod 0700 /app/data

ENV PATH="/opt/venv/bin:${PATH}" \
    MENGCHONG_CONFIG=/app/config.toml \
    MENGCHONG__SERVER__HOST=0.0.0.0

USER 10001:10001
VOLUME ["/app/data"]
EXPOSE 8080

# slim has no curl: ask /healthz with the standard library (follows MENGCHONG__SERVER__PORT).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, sys, urllib.request; port = os.environ.get('MENGCHONG__SERVER__PORT', '8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]

# The default applies pending migrations (a no-op when up to date), then serves.
# `docker run IMAGE migrate` only migrates; any subcommand works (`plugins`, `routes`, `config`).
ENTRYPOINT ["mengchong"]
CMD ["serve", "--migrate"]
