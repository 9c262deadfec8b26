# kind's images/base/Dockerfile (kind v0.33.0), with Debian's containerd, runc and CNI plugins
# instead of ones built from git, so it builds from Debian's packages alone. The build context is
# kind's own images/base/files from its Go module, plus crictl.
ARG BASE
FROM ${BASE}
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/etc/ /etc/
COPY crictl /usr/local/bin/crictl
RUN chmod 0755 /usr/local/bin/* /kind /kind/bin /kind/bin/* \
    && DEBIAN_FRONTEND=noninteractive clean-install -o Dpkg::Options::=--force-confold \
      systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod \
      libseccomp2 pigz e2fsprogs bash ca-certificates curl jq procps \
      containerd runc containernetworking-plugins \
    && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \
    && rm -f /lib/systemd/system/multi-user.target.wants/* \
    && rm -f /etc/systemd/system/*.wants/* \
    && rm -f /lib/systemd/system/local-fs.target.wants/* \
    && rm -f /lib/systemd/system/sockets.target.wants/*udev* \
    && rm -f /lib/systemd/system/sockets.target.wants/*initctl* \
    && rm -f /lib/systemd/system/basic.target.wants/* \
    && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \
    && ln -sf /usr/lib/systemd/systemd /sbin/init
# Debian installs containerd in /usr/bin and the CNI plugins in /usr/lib/cni.
# restrict_oom_score_adj: the machine's bounding set lacks CAP_SYS_RESOURCE, and without it every
# pod sandbox fails writing oom_score_adj. config_path: registries resolve to hosts.toml files
# that send pulls to a closed local port, so a wrong image fails fast and nothing leaves the
# machine; every image a lab needs is imported into the node.
RUN sed -i 's|^ExecStart=.*|ExecStart=/usr/bin/containerd|' /etc/systemd/system/containerd.service \
    && rm -f /etc/systemd/system/containerd-fuse-overlayfs.service \
    && sed -i -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \
        -e '/^\[proxy_plugins\]/,/^  address/d' /etc/containerd/config.toml \
    && printf '\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n' \
        >> /etc/containerd/config.toml \
    && for r in docker.io registry.k8s.io quay.io ghcr.io gcr.io k8s.gcr.io registry-1.docker.io; do \
         mkdir -p /etc/containerd/certs.d/$r \
         && printf 'server = "http://127.0.0.1:9"\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n' \
            > /etc/containerd/certs.d/$r/hosts.toml; done \
    && ctr oci spec \
        | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
        | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \
    && mkdir -p /opt/cni/bin && for p in /usr/lib/cni/*; do ln -sf "$p" /opt/cni/bin/; done \
    && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
    && systemctl mask systemd-binfmt.service \
    && mkdir -p /etc/kubernetes/manifests /lib/modules
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]
