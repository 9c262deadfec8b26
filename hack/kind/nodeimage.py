"""The kind node image, built as `kind build node-image` does (docker run, copy, import, commit)
but from what this machine can build: `kind build node-image` fetches every image it did not build
from a registry, which cannot be reached here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import images
from common import CACHE, HACK, SetupError, log, run, step
from engine import docker

# Each image kubeadm asks for, by repository, and the binaries that are its whole content.
COMPONENTS = {
    "kube-apiserver": ("k8s", "kube-apiserver", ""),
    "kube-controller-manager": ("k8s", "kube-controller-manager", ""),
    "kube-scheduler": ("k8s", "kube-scheduler", ""),
    "kube-proxy": ("k8s", "kube-proxy", ""),
    # etcdctl and etcdutl beside etcd, as in registry.k8s.io/etcd (`kubectl exec` into it).
    "etcd": ("tool", "etcd etcdctl etcdutl", ""),
    "coredns": ("tool", "coredns", "coredns"),
    "pause": ("k8s", "pause", "pause"),
}
TOOLS = [
    "crictl",
    "etcd",
    "etcdctl",
    "etcdutl",
    "coredns",
    "kube-router",
    "local-path-provisioner",
    "traefik",
]
# On the node itself as well, as on the exam's control-plane node (an etcd snapshot lab).
NODE_TOOLS = ["etcdctl", "etcdutl"]
KUBE_ROUTER_IMAGE = "breakfix.local/kube-router:v2.1.0"
LOCAL_PATH_IMAGE = "breakfix.local/local-path-provisioner:v0.0.30"
TRAEFIK_IMAGE = "breakfix.local/traefik:v3.7.13"
# Where kind's own node image is used, the controller comes from its registry.
TRAEFIK_UPSTREAM_IMAGE = "docker.io/library/traefik:v3.7.13"
HELPER_IMAGE = "docker.io/library/busybox:1.36"


def go_tool(name: str) -> Path:
    # stderr flows through: a cold build says what it is building.
    proc = subprocess.run([str(HACK / "go-tool.sh"), name], stdout=subprocess.PIPE, text=True,
                          check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SetupError(f"building {name} failed (see above)",
                         f"building {name} needs Go and the Go module proxy")  # fmt: skip
    return Path(proc.stdout.strip().splitlines()[-1])


def kubernetes() -> Path:
    proc = subprocess.run(
        [str(HACK / "build-k8s.sh")], stdout=subprocess.PIPE, text=True, check=False
    )
    if proc.returncode != 0:
        raise SetupError(
            "building Kubernetes failed (see above)",
            "it needs Go, the Go module proxy and about 4 GB free under ~/.cache",
        )
    return Path(proc.stdout.strip().splitlines()[-1])


def wanted_images(k8s: Path) -> list[str]:
    """The exact names kubeadm will look for, from kubeadm itself."""
    out = run(
        [k8s / "kubeadm", "config", "images", "list", "--kubernetes-version", images.k8s_version()],
        capture=True,
    )
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def component_images(k8s: Path, tools: dict[str, Path], tools_image: str) -> list[str]:
    refs = []
    for ref in wanted_images(k8s):
        repo = ref.rsplit("/", 1)[-1].split(":")[0]
        if repo not in COMPONENTS:
            raise SetupError(f"kubeadm wants {ref}, which this script does not know how to build")
        source, names, entry = COMPONENTS[repo]
        paths = [k8s / n if source == "k8s" else tools[n] for n in names.split()]
        base = tools_image if repo == "kube-proxy" else "scratch"
        images.binary(ref, paths, base=base, entrypoint=entry)
        refs.append(ref)
        if repo == "pause":
            # kind's containerd config names its own pause tag as the sandbox image.
            for tag in images.PAUSE_TAGS:
                alias = f"{ref.rsplit(':', 1)[0]}:{tag}"
                images.tag(ref, alias)
                refs.append(alias)
    images.binary(KUBE_ROUTER_IMAGE, [tools["kube-router"]], base=tools_image)
    images.binary(LOCAL_PATH_IMAGE, [tools["local-path-provisioner"]])
    images.binary(TRAEFIK_IMAGE, [tools["traefik"]], entrypoint="traefik")
    images.busybox()
    return sorted({*refs, KUBE_ROUTER_IMAGE, LOCAL_PATH_IMAGE, TRAEFIK_IMAGE, *images.BUSYBOX_TAGS})


def storage_manifest() -> str:
    """kind's own default storage (local-path-provisioner and the `standard` StorageClass),
    read from kind's source, with the images built here."""
    src = (images._kind_module() / "pkg/build/nodeimage/const_storage.go").read_text()
    src = src.replace("` + storageProvisionerImage + `", LOCAL_PATH_IMAGE)
    src = src.replace("` + storageHelperImage + `", HELPER_IMAGE)
    body = re.search(r"const defaultStorageManifest = `(.*?)`", src, re.S)
    if not body or "` +" in body.group(1) or "kind: StorageClass" not in body.group(1):
        raise SetupError("kind's const_storage.go changed shape: update nodeimage.storage_manifest")
    return body.group(1)


def image_id(ref: str) -> str:
    return run([docker(), "image", "inspect", "-f", "{{.Id}}", ref], capture=True).stdout.strip()


def node(base: str, k8s: Path, refs: list[str], extra: dict[str, str], tools: list[Path]) -> str:
    version = images.k8s_version()
    key = images._digest(
        base,
        *(image_id(r) for r in refs),
        *(k8s / b for b in ("kubeadm", "kubelet", "kubectl")),
        *extra.values(),
        *tools,
    )
    ref = f"breakfix/node:{version}-{key}"
    if images.exists(ref):
        return ref
    d = docker()
    with step(f"building the node image {ref}"), _committed(base, ref) as cid:
        for b in ("kubeadm", "kubelet", "kubectl"):
            run([d, "cp", k8s / b, f"{cid}:/usr/bin/{b}"], capture=True)
        for tool in tools:
            run([d, "cp", tool, f"{cid}:/usr/local/bin/{tool.name}"], capture=True)
        files = {"/kind/version": version, **extra}
        for path, content in files.items():
            run(
                [d, "exec", "-i", cid, "sh", "-c", f"mkdir -p $(dirname {path}) && cat > {path}"],
                input=content,
                capture=True,
            )
        _import(cid, refs)
    # The copies holding the operator image first: an image with children cannot go.
    _prune_other_node_images(PRELOADED, f"{PRELOADED}:{ref.rsplit(':', 1)[1]}-")
    _prune_other_node_images("breakfix/node", ref)
    return ref


PRELOADED = "breakfix/node-preloaded"


def with_image(node_ref: str, image: str) -> str:
    """The node image with `image` already in its containerd, imported as kind's own preloaded
    images are (unpacked when a container first uses it): a cluster created from it needs no
    `kind load`. Loading the operator image into three booting nodes at once took about 40 s on
    two cores and held up their kube-proxy and kube-router by 25 s; imported here once, into
    an idle container, it costs a few seconds, and nothing when the image did not change."""
    ref = f"{PRELOADED}:{node_ref.rsplit(':', 1)[1]}-{images._digest(image_id(image))}"
    if images.exists(ref):
        return ref
    with step(f"adding {image} to the node image"), _committed(node_ref, ref) as cid:
        _import(cid, [image])
    _prune_other_node_images(PRELOADED, ref)
    return ref


@contextmanager
def _committed(base: str, ref: str) -> Iterator[str]:
    """A container of `base` to change, committed as the node image `ref` (kind's entrypoint)
    when the block ends without error, and removed either way."""
    d = docker()
    cid = run([d, "run", "-d", "--privileged", "--entrypoint=sleep", base, "infinity"],
              capture=True).stdout.strip()  # fmt: skip
    try:
        yield cid
        entrypoint = 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]'
        run([d, "commit", "--change", entrypoint, "--change", "CMD []", cid, ref], capture=True)
    finally:
        run([d, "rm", "-f", cid], capture=True, check=False)


def _prune_other_node_images(repository: str, keep: str) -> None:
    """Each node image is 1.6 GB; one built from older inputs is never used again. Kept: the
    images whose name begins with `keep` (one image, or the copies of one node image)."""
    out = run(
        [docker(), "images", repository, "--format", "{{.Repository}}:{{.Tag}}"],
        capture=True,
        check=False,
    ).stdout.split()
    for old in (r for r in out if not r.startswith(keep)):
        if run([docker(), "rmi", old], capture=True, check=False).returncode == 0:
            log(f"removed the outdated node image {old}")


def _import(cid: str, refs: list[str]) -> None:
    d = docker()
    run(
        [d, "exec", "-d", cid, "sh", "-c", "containerd >/var/log/build-containerd.log 2>&1"],
        capture=True,
    )
    deadline = time.monotonic() + 30
    while run([d, "exec", cid, "ctr", "version"], capture=True, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise SetupError("containerd in the node image did not start")
        time.sleep(0.3)
    save = subprocess.Popen([d, "save", *refs], stdout=subprocess.PIPE)
    load = subprocess.run(
        [
            d,
            "exec",
            "-i",
            cid,
            "ctr",
            "-n",
            "k8s.io",
            "images",
            "import",
            "--all-platforms",
            "--no-unpack",
            "--digests",
            "-",
        ],
        stdin=save.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    save.wait()
    if save.returncode or load.returncode:
        raise SetupError(f"importing images into the node image failed: {load.stderr[-2000:]}")
    run(
        [
            d,
            "exec",
            cid,
            "sh",
            "-c",
            "pkill containerd; sleep 1; rm -f /var/log/build-containerd.log",
        ],
        capture=True,
        check=False,
    )
    log(f"imported {len(refs)} images into the node image")


NEEDED_GB = 8  # Go build caches, the Kubernetes binaries, the images and the node image


def check_disk() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(CACHE).free / 2**30
    if free < NEEDED_GB:
        raise SetupError(
            f"only {free:.1f} GB free under {CACHE}; building the node image needs about "
            f"{NEEDED_GB} GB",
            "free some space (`docker system prune` removes unused images), or point "
            "XDG_CACHE_HOME at a larger disk",
        )


def ensure() -> str:
    """The node image for the pinned Kubernetes, built once and kept in the engine's store."""
    built = run([docker(), "images", "-q", "breakfix/node"], capture=True, check=False).stdout
    if not built.strip():
        check_disk()
    k8s = kubernetes()
    with step("building the cluster's components through the Go module proxy (cached)"):
        tools = {name: go_tool(name) for name in TOOLS}
    debian = images.debian()
    tools_image = images.tools(debian)
    base = images.node_base(debian, tools["crictl"])
    with step("building the component images"):
        refs = component_images(k8s, tools, tools_image)
    extra = {
        # kube-router is applied after the cluster is created (it needs the API server's name).
        "/kind/manifests/default-cni.yaml": "# networking: breakfix applies kube-router\n",
        "/kind/manifests/default-storage.yaml": storage_manifest(),
    }
    return node(base, k8s, refs, extra, [tools[n] for n in NODE_TOOLS])
