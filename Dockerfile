# gitops-promoter: the service image. Build: docker build -t gitops-promoter:0.1.0 .
# Run:  docker run -v ./promoter.yaml:/etc/gitops-promoter/promoter.yaml:ro -e GIT_TOKEN=... gitops-promoter:0.1.0
# (the CMD is the service; any other command works too: ... gitops-promoter:0.1.0 check-config FILE).
# In Kubernetes: deploy/. tests/ship/test_deploy.py checks this file's invariants and builds the same wheel.

# One base for both stages, pinned to a patch release (pin its digest too where you build).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: a wheel of this package, installed with its dependencies into /opt/venv ---------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gitops_promoter ./gitops_promoter
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/venv/bin/pip install /wheels/gitops_promoter-*.whl

# --- runtime: slim, git inside, no compilers, no sources, not root ---------------------------
FROM ${PYTHON_IMAGE}
# git (and ssh for ssh:// deployment repositories) is what the promoter writes with;
# tini is PID 1, so the git processes a killed fetch leaves behind are reaped.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
# A fixed UID/GID, so Kubernetes' runAsNonRoot can check it and volumes can be owned by it.
RUN groupadd --system --gid 10001 gitops-promoter \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/gitops-promoter --no-create-home \
      --shell /usr/sbin/nologin gitops-promoter \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/gitops-promoter
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/var/lib/gitops-promoter \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GITOPS_PROMOTER_LOG_FORMAT=json
WORKDIR /var/lib/gitops-promoter
USER 10001:10001
# server.listen (0.0.0.0:8080 in deploy/30-configmap.yaml): webhooks, /metrics, /healthz, /readyz.
EXPOSE 8080
ENTRYPOINT ["tini", "--", "gitops-promoter"]
CMD ["run", "--config", "/etc/gitops-promoter/promoter.yaml"]
