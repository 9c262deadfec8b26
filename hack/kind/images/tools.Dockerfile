# Userspace for the host-network components (kube-proxy, kube-router): iptables (nft backend, as
# the node's entrypoint selects), ipset, ip, conntrack.
ARG BASE
FROM ${BASE}
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      iptables ipset iproute2 conntrack kmod \
    && rm -rf /var/lib/apt/lists/*
