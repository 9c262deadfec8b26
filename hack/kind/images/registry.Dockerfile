# The in-cluster registry (hack/kind/registry.py): Debian's docker-registry with the glibc files
# it loads (copied by the path ldd names), nothing else, as distroless images are. It runs as
# nobody; its configuration, credentials and storage are mounted.
FROM scratch
COPY rootfs/ /
ENTRYPOINT ["/usr/bin/docker-registry"]
