#!/usr/bin/env python3
"""A single-node Kubernetes cluster from pinned upstream components, for machines without Docker.

etcd, containerd, runc and the CNI plugins come from Debian's packages; the Kubernetes components
from hack/build-k8s.sh (built through the Go module proxy, cached by version); the pause and busybox
images are built here and imported under the names the lab manifests use on kind.

    cluster.py up       start (or confirm) the cluster; last line: export KUBECONFIG=...
    cluster.py down     stop every process it started and remove all state it created
    cluster.py status   say whether it runs, with the resident memory of its processes

Standard library only: this runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HACK = Path(__file__).resolve().parent
NODE = "localhost"  # resolves to 127.0.0.1 everywhere without touching /etc/hosts
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
BRIDGE = "breakfix0"
NODE_IP = "10.244.0.1"
CNI_NETWORK = "breakfix"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
BUSYBOX_IMAGES = ["docker.io/library/busybox:1.36", "docker.io/library/busybox:latest"]
API = "https://127.0.0.1:6443"
# Registries that lab manifests or a mistyped image might name; pulls go to a closed local port so
# a wrong image fails fast with ErrImagePull instead of reaching out of this machine.
BLOCKED_REGISTRIES = ["docker.io", "registry.k8s.io", "quay.io", "ghcr.io", "gcr.io", "k8s.gcr.io"]
DEBIAN_PACKAGES = {
    "etcd": "etcd-server",
    "containerd": "containerd",
    "runc": "runc",
    "/usr/lib/cni/bridge": "containernetworking-plugins",
    "iptables": "iptables",
    "conntrack": "conntrack",
    "/bin/busybox": "busybox-static",
    "openssl": "openssl",
    "ip": "iproute2",
}
COMPONENTS = [
    "etcd",
    "containerd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
]


def log(msg: str) -> None:
    print(f"cluster: {msg}", file=sys.stderr, flush=True)


class ClusterError(RuntimeError):
    pass


@dataclass(frozen=True)
class Layout:
    """Every path the cluster writes to; `down` removes `state` and `run` and nothing else."""

    state: Path
    run: Path
    cache: Path

    @classmethod
    def default(cls) -> Layout:
        home = Path.home()
        state = Path(
            os.environ.get("BREAKFIX_CLUSTER_DIR")
            or Path(os.environ.get("XDG_STATE_HOME", home / ".local/state")) / "breakfix/cluster"
        )
        cache = Path(
            os.environ.get("BREAKFIX_CACHE")
            or Path(os.environ.get("XDG_CACHE_HOME", home / ".cache")) / "breakfix"
        )
        # Unix socket paths are limited to 108 bytes: keep runtime sockets short.
        return cls(state=state, run=Path("/run/breakfix"), cache=cache)

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def pids(self) -> Path:
        return self.state / "pids"

    @property
    def kubeconfig(self) -> Path:
        return self.state / "admin.kubeconfig"

    @property
    def containerd_sock(self) -> Path:
        return self.run / "containerd/containerd.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.state / "kubelet"

    @property
    def etcd_data(self) -> Path:
        return self.state / "etcd"


# --- prerequisites -------------------------------------------------------------------------------


def ensure_packages() -> None:
    missing = sorted(
        {
            pkg
            for probe, pkg in DEBIAN_PACKAGES.items()
            if not (Path(probe).exists() if probe.startswith("/") else shutil.which(probe))
        }
    )
    if not missing:
        return
    if os.geteuid() != 0:
        raise ClusterError(f"missing Debian packages {missing}; install them as root")
    log(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # stdout carries only the final `export KUBECONFIG=...` line (callers eval it).
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=sys.stderr)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing], check=True, env=env, stdout=sys.stderr
    )


def build_binaries() -> Path:
    out = subprocess.run(
        [str(HACK / "build-k8s.sh")], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return Path(out.strip().splitlines()[-1])


# --- images --------------------------------------------------------------------------------------


def _tar_bytes(entries: list[tuple[str, bytes | None, str | None, int]]) -> bytes:
    """A deterministic tar of (path, file content, symlink target, mode) entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data, target, mode in entries:
            info = tarfile.TarInfo(path)
            info.mtime = 0
            info.mode = mode
            if target is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = target
                tar.addfile(info)
            elif data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def oci_archive(names: list[str], layer: bytes, config: dict[str, object], dest: Path) -> None:
    """Write an OCI image layout tarball that `ctr images import` accepts, one ref per name."""

    def blob(data: bytes) -> tuple[str, bytes]:
        return "sha256:" + hashlib.sha256(data).hexdigest(), data

    layer_digest, _ = blob(layer)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "breakfix hack/cluster.py"}],
    }
    config_digest, config_bytes = blob(json.dumps(image_config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": len(layer),
            }
        ],
    }
    manifest_digest, manifest_bytes = blob(json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1],
                },
                "platform": {"architecture": "amd64", "os": "linux"},
            }
            for name in names
        ],
    }
    files: list[tuple[str, bytes | None, str | None, int]] = [
        ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode(), None, 0o644),
        ("index.json", json.dumps(index, sort_keys=True).encode(), None, 0o644),
        ("blobs", None, None, 0o755),
        ("blobs/sha256", None, None, 0o755),
    ]
    for digest, data in (
        (layer_digest, layer),
        (config_digest, config_bytes),
        (manifest_digest, manifest_bytes),
    ):
        files.append((f"blobs/sha256/{digest.split(':')[1]}", data, None, 0o644))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(_tar_bytes(files))
    tmp.rename(dest)


def busybox_layer() -> bytes:
    busybox = Path("/bin/busybox").read_bytes()
    applets = subprocess.run(
        ["/bin/busybox", "--list-full"], check=True, stdout=subprocess.PIPE, text=True
    ).stdout.split()
    entries: list[tuple[str, bytes | None, str | None, int]] = [
        (d, None, None, 0o755) for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc")
    ]
    entries += [("tmp", None, None, 0o1777), ("root", None, None, 0o700)]
    entries.append(("bin/busybox", busybox, None, 0o755))
    for applet in sorted(set(applets)):
        if applet != "bin/busybox":
            entries.append((applet, None, "/bin/busybox", 0o777))
    entries.append(
        (
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
            None,
            0o644,
        )
    )
    entries.append(("etc/group", b"root:x:0:\nnobody:x:65534:\n", None, 0o644))
    return _tar_bytes(entries)


def build_images(layout: Layout, bin_dir: Path) -> list[Path]:
    """Build (or reuse from the cache) the OCI archives for the pause and busybox images."""
    images = layout.cache / "images"
    pause_tar = (
        images / f"pause-{hashlib.sha256((bin_dir / 'pause').read_bytes()).hexdigest()[:12]}.tar"
    )
    if not pause_tar.exists():
        layer = _tar_bytes([("pause", (bin_dir / "pause").read_bytes(), None, 0o755)])
        oci_archive(
            [PAUSE_IMAGE], layer, {"Entrypoint": ["/pause"], "User": "65535:65535"}, pause_tar
        )
    busybox_hash = hashlib.sha256(Path("/bin/busybox").read_bytes()).hexdigest()[:12]
    busybox_tar = images / f"busybox-{busybox_hash}.tar"
    if not busybox_tar.exists():
        config = {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}
        oci_archive(BUSYBOX_IMAGES, busybox_layer(), config, busybox_tar)
    return [pause_tar, busybox_tar]


# --- certificates and kubeconfigs ----------------------------------------------------------------


def openssl(*args: str) -> None:
    subprocess.run(
        ["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def issue_cert(
    pki: Path, name: str, cn: str, org: str | None, sans: list[str], server: bool
) -> None:
    subj = f"/CN={cn}" + (f"/O={org}" if org else "")
    ext = pki / f"{name}.ext"
    usage = "serverAuth,clientAuth" if server else "clientAuth"
    lines = [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usage}",
    ]
    if sans:
        lines.append("subjectAltName=" + ",".join(sans))
    ext.write_text("\n".join(lines) + "\n")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(pki / f"{name}.key"))
    openssl(
        "req",
        "-new",
        "-key",
        str(pki / f"{name}.key"),
        "-subj",
        subj,
        "-out",
        str(pki / f"{name}.csr"),
    )
    openssl(
        "x509",
        "-req",
        "-in",
        str(pki / f"{name}.csr"),
        "-CA",
        str(pki / "ca.crt"),
        "-CAkey",
        str(pki / "ca.key"),
        "-CAcreateserial",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        str(ext),
        "-out",
        str(pki / f"{name}.crt"),
    )


def make_pki(layout: Layout) -> None:
    pki = layout.pki
    if (pki / "done").exists():
        return
    pki.mkdir(parents=True, exist_ok=True)
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(pki / "ca.key"))
    openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        str(pki / "ca.key"),
        "-subj",
        "/CN=breakfix-ca",
        "-days",
        "3650",
        "-sha256",
        "-out",
        str(pki / "ca.crt"),
    )
    openssl(
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        str(pki / "sa.key"),
    )
    openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    api_sans = [
        "IP:127.0.0.1",
        "IP:10.96.0.1",
        "DNS:localhost",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
    ]
    issue_cert(pki, "apiserver", "kube-apiserver", None, api_sans, server=True)
    issue_cert(
        pki,
        "apiserver-kubelet-client",
        "kube-apiserver-kubelet-client",
        "system:masters",
        [],
        server=False,
    )
    issue_cert(pki, "admin", "breakfix-admin", "system:masters", [], server=False)
    issue_cert(pki, "controller-manager", "system:kube-controller-manager", None, [], server=False)
    issue_cert(pki, "scheduler", "system:kube-scheduler", None, [], server=False)
    issue_cert(
        pki,
        "kubelet",
        f"system:node:{NODE}",
        "system:nodes",
        ["DNS:localhost", "IP:127.0.0.1"],
        server=True,
    )
    issue_cert(pki, "kube-proxy", "system:kube-proxy", None, [], server=False)
    (pki / "done").write_text("")


def write_kubeconfig(layout: Layout, path: Path, cert: str) -> None:
    pki = layout.pki
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: breakfix
  cluster:
    server: {API}
    certificate-authority: {pki / "ca.crt"}
users:
- name: {cert}
  user:
    client-certificate: {pki / (cert + ".crt")}
    client-key: {pki / (cert + ".key")}
contexts:
- name: breakfix
  context: {{cluster: breakfix, user: {cert}}}
current-context: breakfix
"""
    )


def write_admin_kubeconfig(layout: Layout) -> None:
    """The admin kubeconfig embeds its credentials, so it can be copied or mounted anywhere."""
    pki = layout.pki

    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    tmp = layout.kubeconfig.with_suffix(".tmp")
    tmp.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: breakfix-local
  cluster:
    server: {API}
    certificate-authority-data: {b64("ca.crt")}
users:
- name: breakfix-admin
  user:
    client-certificate-data: {b64("admin.crt")}
    client-key-data: {b64("admin.key")}
contexts:
- name: breakfix-local
  context: {{cluster: breakfix-local, user: breakfix-admin}}
current-context: breakfix-local
"""
    )
    tmp.chmod(0o600)
    tmp.rename(layout.kubeconfig)


# --- component configuration ---------------------------------------------------------------------


def write_configs(layout: Layout) -> None:
    cfg = layout.state / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    for name in ("controller-manager", "scheduler", "kubelet", "kube-proxy"):
        write_kubeconfig(layout, cfg / f"{name}.kubeconfig", name)

    certs_d = cfg / "certs.d"
    for registry in BLOCKED_REGISTRIES:
        (certs_d / registry).mkdir(parents=True, exist_ok=True)
        (certs_d / registry / "hosts.toml").write_text('server = "http://127.0.0.1:9"\n')

    cni_conf = cfg / "net.d"
    cni_conf.mkdir(exist_ok=True)
    (cni_conf / "10-breakfix.conflist").write_text(
        json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": CNI_NETWORK,
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": BRIDGE,
                        "isGateway": True,
                        "ipMasq": True,
                        "hairpinMode": True,
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                            "routes": [{"dst": "0.0.0.0/0"}],
                            "dataDir": str(layout.state / "cni-ipam"),
                        },
                    },
                    {"type": "portmap", "capabilities": {"portMappings": True}},
                ],
            },
            indent=2,
        )
    )

    (cfg / "containerd.toml").write_text(f"""version = 2
root = "{layout.state / "containerd"}"
state = "{layout.run / "containerd-state"}"
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{layout.containerd_sock}"

[ttrpc]
  address = "{layout.run / "containerd/containerd.sock.ttrpc"}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # No CAP_SYS_RESOURCE in these VMs: without this every sandbox fails to start.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{certs_d}"
""")

    (cfg / "kubelet.yaml").write_text(f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
containerRuntimeEndpoint: unix://{layout.containerd_sock}
# The hosts are cgroup v1 (hybrid); the kubelet refuses v1 unless told otherwise.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {layout.pki / "ca.crt"}}}
authorization:
  mode: Webhook
tlsCertFile: {layout.pki / "kubelet.crt"}
tlsPrivateKeyFile: {layout.pki / "kubelet.key"}
podLogsDir: {layout.state / "pod-logs"}
maxPods: 250
serializeImagePulls: false
# The disk is shared with everything else on the machine: do not let the node taint itself.
evictionHard:
  memory.available: "50Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
# Locally imported images cannot be pulled again: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
nodeStatusReportFrequency: 1m
syncFrequency: 10s
fileCheckFrequency: 1m
resolvConf: ""
shutdownGracePeriod: 0s
""")

    (cfg / "kube-proxy.yaml").write_text(f"""apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: {POD_CIDR}
hostnameOverride: {NODE}
clientConnection:
  kubeconfig: {cfg / "kube-proxy.kubeconfig"}
conntrack:
  maxPerCore: 0
""")


def commands(layout: Layout, bin_dir: Path) -> dict[str, list[str]]:
    pki, cfg = layout.pki, layout.state / "config"
    return {
        "etcd": [
            "etcd",
            "--name",
            "breakfix",
            "--data-dir",
            str(layout.etcd_data / "data"),
            "--listen-client-urls",
            "http://127.0.0.1:2379",
            "--advertise-client-urls",
            "http://127.0.0.1:2379",
            "--listen-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-cluster",
            "breakfix=http://127.0.0.1:2380",
            "--listen-metrics-urls",
            "http://127.0.0.1:2381",
            "--quota-backend-bytes",
            str(1 << 30),
            "--log-level",
            "warn",
        ],
        "containerd": ["containerd", "--config", str(cfg / "containerd.toml")],
        "kube-apiserver": [
            str(bin_dir / "kube-apiserver"),
            "--etcd-servers",
            "http://127.0.0.1:2379",
            "--bind-address",
            "127.0.0.1",
            "--advertise-address",
            "127.0.0.1",
            "--secure-port",
            "6443",
            "--service-cluster-ip-range",
            SERVICE_CIDR,
            "--tls-cert-file",
            str(pki / "apiserver.crt"),
            "--tls-private-key-file",
            str(pki / "apiserver.key"),
            "--client-ca-file",
            str(pki / "ca.crt"),
            "--kubelet-client-certificate",
            str(pki / "apiserver-kubelet-client.crt"),
            "--kubelet-client-key",
            str(pki / "apiserver-kubelet-client.key"),
            "--kubelet-preferred-address-types",
            "Hostname,InternalIP",
            "--service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file",
            str(pki / "sa.pub"),
            "--service-account-signing-key-file",
            str(pki / "sa.key"),
            "--authorization-mode",
            "Node,RBAC",
            "--allow-privileged=true",
            # The only address is loopback, which an Endpoints object may not hold.
            "--endpoint-reconciler-type",
            "none",
            "--profiling=false",
        ],
        "kube-controller-manager": [
            str(bin_dir / "kube-controller-manager"),
            "--kubeconfig",
            str(cfg / "controller-manager.kubeconfig"),
            "--authentication-kubeconfig",
            str(cfg / "controller-manager.kubeconfig"),
            "--authorization-kubeconfig",
            str(cfg / "controller-manager.kubeconfig"),
            "--bind-address",
            "127.0.0.1",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            "--service-account-private-key-file",
            str(pki / "sa.key"),
            "--root-ca-file",
            str(pki / "ca.crt"),
            "--cluster-signing-cert-file",
            str(pki / "ca.crt"),
            "--cluster-signing-key-file",
            str(pki / "ca.key"),
            "--service-cluster-ip-range",
            SERVICE_CIDR,
            "--allocate-node-cidrs=false",
            "--profiling=false",
        ],
        "kube-scheduler": [
            str(bin_dir / "kube-scheduler"),
            "--kubeconfig",
            str(cfg / "scheduler.kubeconfig"),
            "--authentication-kubeconfig",
            str(cfg / "scheduler.kubeconfig"),
            "--authorization-kubeconfig",
            str(cfg / "scheduler.kubeconfig"),
            "--bind-address",
            "127.0.0.1",
            "--leader-elect=false",
            "--profiling=false",
        ],
        "kubelet": [
            str(bin_dir / "kubelet"),
            "--config",
            str(cfg / "kubelet.yaml"),
            "--kubeconfig",
            str(cfg / "kubelet.kubeconfig"),
            "--root-dir",
            str(layout.kubelet_root),
            "--cert-dir",
            str(layout.state / "kubelet-pki"),
            "--hostname-override",
            NODE,
            # The kubelet refuses a loopback node IP: use the gateway of the pod bridge we own
            # (the API server still reaches the kubelet through its Hostname, localhost).
            "--node-ip",
            NODE_IP,
        ],
        "kube-proxy": [str(bin_dir / "kube-proxy"), "--config", str(cfg / "kube-proxy.yaml")],
    }


# --- processes ------------------------------------------------------------------------------------


def pid_of(layout: Layout, name: str) -> int | None:
    try:
        pid = int((layout.pids / f"{name}.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    # A recycled PID would belong to some other program: confirm it is ours.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except FileNotFoundError:
        return None
    # Empty while the process is being exec'd; otherwise it names the program.
    return pid if not cmdline or Path(cmdline).name == name else None


def start(layout: Layout, name: str, argv: list[str]) -> None:
    if pid_of(layout, name):
        return
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.pids.mkdir(parents=True, exist_ok=True)
    with open(layout.logs / f"{name}.log", "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (layout.pids / f"{name}.pid").write_text(str(proc.pid))


def stop(layout: Layout, name: str, grace: float = 10.0) -> None:
    pid = pid_of(layout, name)
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    (layout.pids / f"{name}.pid").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _reap_zombies() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


# --- talking to the API server --------------------------------------------------------------------


def api_get(layout: Layout, path: str, timeout: float = 2.0) -> dict[str, object] | None:
    ctx = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
    ctx.load_cert_chain(str(layout.pki / "admin.crt"), str(layout.pki / "admin.key"))
    try:
        with urllib.request.urlopen(API + path, context=ctx, timeout=timeout) as resp:
            body = resp.read()
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return None
    try:
        result: dict[str, object] = json.loads(body)
    except json.JSONDecodeError:
        result = {"raw": body.decode(errors="replace")}
    return result


def node_ready(layout: Layout) -> bool:
    node = api_get(layout, f"/api/v1/nodes/{NODE}")
    if not node:
        return False
    conditions = node.get("status", {}).get("conditions", [])  # type: ignore[union-attr]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def healthy(layout: Layout) -> bool:
    if not layout.pki.exists() or any(pid_of(layout, c) is None for c in COMPONENTS):
        return False
    ready = api_get(layout, "/readyz")
    return ready is not None and node_ready(layout)


def accepts(sock: Path) -> bool:
    """The socket file appears at bind(), before the server listens: only a connect proves it."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        s.connect(str(sock))
        return True
    return False


def wait_for(what: str, predicate: object, layout: Layout, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        for name in COMPONENTS:
            pid_file = layout.pids / f"{name}.pid"
            if pid_file.exists() and not _alive(int(pid_file.read_text())):
                raise ClusterError(
                    f"{name} exited while waiting for {what}; see {layout.logs / (name + '.log')}"
                )
        time.sleep(0.2)
    raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}; logs in {layout.logs}")


# --- host networking ------------------------------------------------------------------------------


def sh(*argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def setup_network() -> None:
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
    bridge_nf = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
    if not bridge_nf.exists():
        sh("modprobe", "br_netfilter")
    if bridge_nf.exists():
        bridge_nf.write_text("1")
    if sh("ip", "link", "show", BRIDGE).returncode != 0:
        sh("ip", "link", "add", BRIDGE, "type", "bridge", check=True)
        sh("ip", "addr", "add", f"{NODE_IP}/16", "dev", BRIDGE, check=True)
    sh("ip", "link", "set", BRIDGE, "up", check=True)
    # The host reaches ClusterIPs through kube-proxy's NAT rules only if the kernel has a route.
    sh("ip", "route", "replace", SERVICE_CIDR, "dev", BRIDGE, "src", NODE_IP)


def teardown_network(layout: Layout, bin_dir: Path | None) -> None:
    if bin_dir and (bin_dir / "kube-proxy").exists():
        sh(str(bin_dir / "kube-proxy"), "--cleanup")
    for table in ("nat", "filter", "mangle"):
        rules = sh("iptables-save", "-t", table).stdout.splitlines()
        chains = [line[1:].split()[0] for line in rules if line.startswith(":")]
        ours = [c for c in chains if c.startswith(("CNI-", "KUBE-"))]
        for line in rules:
            # Jumps into our chains from built-in chains must go before the chains can.
            if line.startswith("-A ") and any(f"-j {c}" in line for c in ours):
                chain = line.split()[1]
                if chain not in ours:
                    sh("iptables", "-t", table, "-D", *line.split()[1:])
        for chain in ours:
            sh("iptables", "-t", table, "-F", chain)
        for chain in ours:
            sh("iptables", "-t", table, "-X", chain)
    sh("ip", "route", "del", SERVICE_CIDR)
    sh("ip", "link", "del", BRIDGE)
    netns = Path("/var/run/netns")
    if netns.exists():
        for ns in netns.glob("cni-*"):
            sh("ip", "netns", "delete", ns.name)
            with contextlib.suppress(OSError):
                ns.unlink()


def kill_pods() -> None:
    """Kill every container process the kubelet started (they outlive containerd and its shims)."""
    for root in Path("/sys/fs/cgroup").iterdir():
        kubepods = root / "kubepods"
        if not kubepods.is_dir():
            continue
        for procs in kubepods.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                for pid in procs.read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
    time.sleep(0.3)
    for root in Path("/sys/fs/cgroup").iterdir():
        kubepods = root / "kubepods"
        if kubepods.is_dir():
            for d in sorted(kubepods.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if d.is_dir():
                    with contextlib.suppress(OSError):
                        d.rmdir()
            with contextlib.suppress(OSError):
                kubepods.rmdir()


def kill_shims(layout: Layout) -> None:
    needle = str(layout.containerd_sock).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmd = (proc / "cmdline").read_bytes()
            if b"containerd-shim" in cmd and needle in cmd:
                os.kill(int(proc.name), signal.SIGKILL)


def unmount_under(*roots: Path) -> None:
    prefixes = tuple(str(r) for r in roots)
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mnt in sorted({m for m in mounts if m.startswith(prefixes)}, key=len, reverse=True):
        sh("umount", "-l", mnt)


# --- up / down ------------------------------------------------------------------------------------


def up(layout: Layout) -> None:
    started = time.monotonic()
    if healthy(layout):
        write_admin_kubeconfig(layout)
        log(f"already running and healthy (checked in {time.monotonic() - started:.1f}s)")
        print(f"export KUBECONFIG={layout.kubeconfig}")
        return
    if os.geteuid() != 0:
        raise ClusterError("the local cluster needs root (containerd, iptables, bridges)")
    if any(pid_of(layout, c) for c in COMPONENTS):
        log("found a partly running cluster: stopping it first")
    # Leftovers of a run that was killed (stale sockets, pid files, mounts, iptables chains) would
    # fool the readiness checks below, so an unhealthy cluster always starts from nothing.
    down(layout, quiet=True)

    ensure_packages()
    log("Kubernetes binaries: building or reusing the cache")
    bin_dir = build_binaries()
    images = build_images(layout, bin_dir)
    for d in (layout.state, layout.run / "containerd", layout.etcd_data, layout.state / "pod-logs"):
        d.mkdir(parents=True, exist_ok=True)
    (layout.state / "bin-dir").write_text(str(bin_dir))
    make_pki(layout)
    write_configs(layout)
    write_admin_kubeconfig(layout)
    # etcd fsyncs every write; on a tmpfs the API server answers in milliseconds, not tens of them.
    if not any(
        line.split()[4] == str(layout.etcd_data)
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    ):
        sh(
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=1g,mode=0700",
            "tmpfs",
            str(layout.etcd_data),
            check=True,
        )
    setup_network()
    cmds = commands(layout, bin_dir)

    log("starting etcd and containerd")
    start(layout, "etcd", cmds["etcd"])
    start(layout, "containerd", cmds["containerd"])
    wait_for(
        "containerd to accept connections", lambda: accepts(layout.containerd_sock), layout, 30
    )
    for archive in images:
        sh(
            "ctr",
            "--address",
            str(layout.containerd_sock),
            "-n",
            "k8s.io",
            "images",
            "import",
            "--all-platforms",
            str(archive),
            check=True,
        )
    log("starting kube-apiserver")
    start(layout, "kube-apiserver", cmds["kube-apiserver"])
    wait_for("the API server (/readyz)", lambda: api_get(layout, "/readyz") is not None, layout, 90)
    log(f"API server ready after {time.monotonic() - started:.1f}s; starting the rest")
    for name in ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"):
        start(layout, name, cmds[name])
    wait_for("the node to be Ready", lambda: node_ready(layout), layout, 90)
    wait_for(
        "the default ServiceAccount",
        lambda: api_get(layout, "/api/v1/namespaces/default/serviceaccounts/default") is not None,
        layout,
        60,
    )
    log(f"cluster ready in {time.monotonic() - started:.1f}s; logs in {layout.logs}")
    print(f"export KUBECONFIG={layout.kubeconfig}")


def down(layout: Layout, quiet: bool = False) -> None:
    bin_dir_file = layout.state / "bin-dir"
    bin_dir = Path(bin_dir_file.read_text()) if bin_dir_file.exists() else None
    for name in ("kube-proxy", "kubelet", "kube-scheduler", "kube-controller-manager"):
        stop(layout, name)
    kill_pods()
    kill_shims(layout)
    for name in ("containerd", "kube-apiserver", "etcd"):
        stop(layout, name)
    _reap_zombies()
    teardown_network(layout, bin_dir)
    unmount_under(layout.state, layout.run)
    for d in (layout.state, layout.run):
        shutil.rmtree(d, ignore_errors=True)
    if not quiet:
        log("stopped; no process, bridge, iptables chain or state left")


def rss_kib(pid: int) -> int:
    with contextlib.suppress(FileNotFoundError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def status(layout: Layout) -> int:
    running = {c: pid_of(layout, c) for c in COMPONENTS}
    total = 0
    for name, pid in running.items():
        kib = rss_kib(pid) if pid else 0
        total += kib
        print(f"{name:26} {'pid ' + str(pid) if pid else 'stopped':>12} {kib / 1024:8.1f} MiB")
    print(f"{'total':26} {'':>12} {total / 1024:8.1f} MiB")
    ok = healthy(layout)
    print("healthy" if ok else "not healthy")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status", "kubeconfig"])
    args = parser.parse_args(argv)
    layout = Layout.default()
    try:
        if args.command == "up":
            up(layout)
        elif args.command == "down":
            down(layout)
        elif args.command == "kubeconfig":
            print(layout.kubeconfig)
        else:
            return status(layout)
    except (ClusterError, subprocess.CalledProcessError) as exc:
        detail = ""
        if isinstance(exc, subprocess.CalledProcessError) and exc.stderr:
            err = exc.stderr if isinstance(exc.stderr, str) else exc.stderr.decode()
            detail = f": {err.strip()}"
        log(f"error: {exc}{detail}")
        log(f"component logs: {layout.logs}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
