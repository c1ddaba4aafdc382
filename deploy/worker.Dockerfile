# syntax=docker/dockerfile:1
# The worker image: Celery + editing_engine with torch's CUDA build (the wheels bring the CUDA
# runtime; the host's NVIDIA driver comes in through the NVIDIA container runtime). The same image
# runs on CPU (PARTEDIT_DEVICE=cpu); for a small CPU-only image build with
#   --build-arg TORCH_INDEX_URL=<PyTorch's CPU wheel index>
# Build from the repository root: docker build -f deploy/worker.Dockerfile -t partedit-worker .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md deploy/constraints.txt ./
COPY editing_engine ./editing_engine
COPY webapp ./webapp
# torch first (from TORCH_INDEX_URL when given), then the engine extra at the pinned versions.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt \
       ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==2.13.0" \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt ".[engine]" \
    && /opt/venv/bin/pip uninstall --yes partedit

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=webapp.settings PARTEDIT_CACHE_DIR=/var/cache/partedit \
    PARTEDIT_WORKER_HEALTH_PORT=8001 OMP_WAIT_POLICY=PASSIVE
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
EXPOSE 8001
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8001/healthz', timeout=4)"]
# One process per GPU (concurrency 1): the generator is loaded once per process.
CMD ["celery", "-A", "webapp", "worker", "--queues", "gpu,preview", "--concurrency", "1", \
     "--loglevel", "INFO", "--hostname", "worker@%h"]
