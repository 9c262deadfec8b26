# The application image labs pull from the in-cluster registry (hack/kind/registry.py): busybox's
# httpd serving a page baked into the image, as a non-root user. Its page names the image, so a
# pod that runs something else is told apart by what it serves, not only by its image.
ARG BASE
FROM ${BASE}
ARG KEY
LABEL dev.breakfix.inputs=${KEY}
COPY www/ /srv/www/
USER 65534:65534
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/srv/www"]
