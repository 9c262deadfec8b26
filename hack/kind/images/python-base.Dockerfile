# A stand-in for python:3.11-slim-bookworm where that cannot be pulled: Debian's own Python 3.11.
# Every node loads the operator image, so each megabyte here is paid three times on every
# `make up`. Nothing kept that the operator does not run: apt's downloaded packages and lists,
# documentation, manuals and translations, also those debootstrap's own layer brought (33 MB of
# translations alone), which only a copy into a fresh layer can drop.
ARG BASE
FROM ${BASE} AS python
RUN printf 'path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\npath-exclude=/usr/share/locale/*\npath-include=/usr/share/locale/locale.alias\n' \
      > /etc/dpkg/dpkg.cfg.d/01-slim \
    && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      python3 python3-venv ca-certificates \
    && ln -sf /usr/bin/python3 /usr/local/bin/python \
    && apt-get clean \
    && find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/* \
      /usr/share/doc/* /usr/share/man/* /usr/share/info/*

FROM scratch
COPY --from=python / /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
CMD ["bash"]
