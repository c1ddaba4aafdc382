# syntax=docker/dockerfile:1
# The web image: daphne serving Django + Channels. No torch, no CUDA (web processes never import them).
# Build from the repository root: docker build -f deploy/web.Dockerfile -t partedit-web .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md deploy/constraints.txt ./
COPY editing_engine ./editing_engine
COPY webapp ./webapp
# The project's runtime dependencies at the pinned versions, then the project itself out again:
# the app runs from /app (templates, static files and the demo model live beside the code).
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt . \
    && /opt/venv/bin/pip uninstall --yes partedit \
    && /opt/venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)"

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=webapp.settings PARTEDIT_CACHE_DIR=/var/cache/partedit
RUN groupadd --system --gid 10001 partedit \
    && useradd --system --uid 10001 --gid partedit --home-dir /app --shell /usr/sbin/nologin partedit \
    && install -d -o partedit -g partedit /var/cache/partedit /app/var
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root manage.py ./
COPY --chown=root:root webapp ./webapp
COPY --chown=root:root editing_engine ./editing_engine
COPY --chown=root:root frontend ./frontend
COPY --chown=root:root models ./models
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["daphne", "--bind", "0.0.0.0", "--port", "8000", "--proxy-headers", "webapp.asgi:application"]
