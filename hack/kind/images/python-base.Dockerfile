# A stand-in for python:3.11-slim-bookworm where that cannot be pulled: Debian's own Python 3.11.
# Nothing kept that the operator does not run: the downloaded packages (apt's cache was 89 MB of
# the image), their documentation, manuals and translations. Every node loads this image, so
# each megabyte here is paid three times on every `make up`.
ARG BASE
FROM ${BASE}
RUN printf 'path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\npath-exclude=/usr/share/locale/*\npath-include=/usr/share/locale/locale.alias\n' \
      > /etc/dpkg/dpkg.cfg.d/01-slim \
    && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      python3 python3-venv ca-certificates \
    && ln -sf /usr/bin/python3 /usr/local/bin/python \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
