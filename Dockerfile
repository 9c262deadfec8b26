# The operator image: `make image`. Multi-stage so the runtime has no compiler or pip cache;
# the base is pinned (bump it deliberately, with the Python version in pyproject.toml in mind).
FROM python:3.12.8-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python -m venv /opt/breakfix && /opt/breakfix/bin/pip install .

FROM python:3.12.8-slim-bookworm
LABEL org.opencontainers.image.title="breakfix operator" \
      org.opencontainers.image.description="Hands-on Kubernetes troubleshooting labs, graded live" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/breakfix /opt/breakfix
ENV PATH=/opt/breakfix/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# A numeric user, so the kubelet can verify runAsNonRoot without a passwd lookup.
USER 10001:10001
ENTRYPOINT ["python", "-m", "breakfix.controller"]
