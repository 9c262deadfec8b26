# The busybox the labs run (busybox:1.36 in their manifests), from Debian's busybox-static, laid
# out as the upstream image is: applets linked into /bin, a writable /tmp, root and nobody.
FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
