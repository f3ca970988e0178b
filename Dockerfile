# syntax=docker/dockerfile:1
# Slipway's image: `docker build -t slipway .` (see docs/DEPLOY.md). Two stages: the builder
# makes a wheel of the project and installs it with its runtime dependencies into a
# virtualenv; the final stage holds only that virtualenv, Python and the two tools below.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Only what the wheel is built from (.dockerignore keeps tests, caches and .venv out).
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/slipway \
    && /opt/slipway/bin/pip install --upgrade pip \
    && /opt/slipway/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/slipway/bin/pip install /wheels/slipway-*.whl

FROM ${PYTHON_IMAGE}
# git: copier, which renders templates, calls it; openssh-client: ssh-keygen and ssh for a
# person debugging deploy keys from the pod (Slipway's own pushes use dulwich over HTTP and
# its SSH host-key scan asyncssh, both in Python). Nothing else: no compiler, no pip cache.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends git openssh-client \
    && rm -rf /var/lib/apt/lists/*
# A fixed UID/GID, so the manifests' runAsUser/fsGroup and a volume's owner match it.
RUN groupadd --system --gid 10001 slipway \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/slipway \
        --shell /usr/sbin/nologin slipway \
    && install --directory --owner 10001 --group 10001 --mode 0700 /var/lib/slipway
COPY --from=builder /opt/slipway /opt/slipway
ENV PATH=/opt/slipway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/slipway \
    SLIPWAY_DATA_DIR=/var/lib/slipway \
    SLIPWAY_LOG_FORMAT=json
# SQLite (the default without SLIPWAY_DATABASE_URL) and a generated secret.key live here.
VOLUME ["/var/lib/slipway"]
WORKDIR /var/lib/slipway
USER 10001:10001
# Healthy when the process can open its database and read it (the same settings as the
# worker: SLIPWAY_DATABASE_URL, or SQLite in the volume); the list itself is thrown away.
HEALTHCHECK --interval=60s --timeout=30s --start-period=30s --retries=3 \
    CMD ["/bin/sh", "-c", "slipway project list --json > /dev/null"]
ENTRYPOINT ["slipway"]
CMD ["worker"]
