"""Images built on this machine, since no registry but the package registries can be reached:
the Debian base, kind's node base, the Kubernetes component images kubeadm expects, and the node
image that holds them all. Each is tagged with a key of its inputs, so a warm run builds nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import packages
import rootfs
from common import HACK, HERE, run, step
from engine import docker

K8S_MODULE = HACK / "k8s/go.mod"
DOCKERFILES = HERE / "images"
KIND_VERSION = "v0.33.0"
PAUSE_TAGS = ["3.10.2", "3.10"]  # kubeadm v1.37's, and the sandbox_image in kind's config
BUSYBOX_TAGS = ["docker.io/library/busybox:1.36", "docker.io/library/busybox:latest"]


def k8s_version() -> str:
    m = re.search(r"^require k8s\.io/kubernetes (v\S+)", K8S_MODULE.read_text(), re.M)
    assert m, "hack/k8s/go.mod pins k8s.io/kubernetes"
    return m.group(1)


def _digest(*parts: bytes | str | Path) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, Path):
            h.update(p.read_bytes() if p.is_file() else str(p).encode())
        else:
            h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:12]


def exists(ref: str) -> bool:
    return run([docker(), "image", "inspect", ref], capture=True, check=False).returncode == 0


@contextmanager
def _context() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="breakfix-image."))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def build(ref: str, dockerfile: str, ctx: Path, *extra_tags: str, **args: str) -> None:
    shutil.copy(DOCKERFILES / dockerfile, ctx / "Dockerfile")
    cmd = [docker(), "build", "-q", "--network=host", "-t", ref]
    for tag in extra_tags:
        cmd += ["-t", tag]
    for key, value in args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    # The legacy builder: Debian's engine has no buildx, and it needs no registry for FROM scratch.
    run(
        [*cmd, str(ctx)],
        env={"DOCKER_BUILDKIT": "0"},
        capture=True,
        hint="see the build output above; apt steps need the Debian mirror",
    )


def debian() -> str:
    tarball = rootfs.ensure()
    ref = f"breakfix/debian:bookworm-{_digest(str(tarball.stat().st_size))}"
    if not exists(ref):
        with step("importing the Debian base image"):
            run([docker(), "import", str(tarball), ref], capture=True)
    return ref


def derived(name: str, dockerfile: str, base: str, what: str) -> str:
    """An image built FROM `base` with a Dockerfile of images/, tagged by both."""
    ref = f"breakfix/{name}-{_digest(base, DOCKERFILES / dockerfile)}"
    if not exists(ref):
        with step(f"building {what}"), _context() as ctx:
            build(ref, dockerfile, ctx, BASE=base)
    return ref


def tools(base: str) -> str:
    return derived("tools:bookworm", "tools.Dockerfile", base, "the tools image (iptables, ipset)")


def python_base(base: str) -> str:
    what = "a stand-in Python base image from Debian's python3"
    return derived("python:3.11-bookworm", "python-base.Dockerfile", base, what)


def _kind_module() -> Path:
    out = run(
        ["go", "mod", "download", "-json", f"sigs.k8s.io/kind@{KIND_VERSION}"],
        capture=True,
        hint="the Go module proxy must be reachable",
    )
    return Path(json.loads(out.stdout)["Dir"])


def node_base(base: str, crictl: Path) -> str:
    ref = f"breakfix/node-base:{_digest(base, crictl, DOCKERFILES / 'node-base.Dockerfile')}"
    if not exists(ref):
        with step("building kind's node base image from Debian's packages"), _context() as ctx:
            shutil.copytree(_kind_module() / "images/base/files", ctx / "files")
            for f in ctx.rglob("*"):
                f.chmod(0o755 if f.is_dir() else 0o644)
            shutil.copy(crictl, ctx / "crictl")
            build(ref, "node-base.Dockerfile", ctx, BASE=base)
    return ref


# What an image was built from (a digest of its inputs): rebuilt only when that changed.
INPUTS_LABEL = "dev.breakfix.inputs"


def label(ref: str, name: str) -> str | None:
    out = run([docker(), "image", "inspect", "-f", f'{{{{index .Config.Labels "{name}"}}}}', ref],
              capture=True, check=False)  # fmt: skip
    return out.stdout.strip() if out.returncode == 0 else None


def binary(ref: str, binaries: list[Path], base: str = "scratch", entrypoint: str = "") -> None:
    """An image of static binaries in /usr/local/bin, as registry.k8s.io's distroless component
    images are; kubeadm's manifests name the command, coredns and pause use the entrypoint."""
    # The tag is kubeadm's, fixed: the label tells an image of other binaries (an older build).
    key = _digest(base, entrypoint, *binaries)
    if label(ref, INPUTS_LABEL) == key:
        return
    with _context() as ctx:
        (ctx / "bin").mkdir()
        for b in binaries:
            shutil.copy(b, ctx / "bin" / b.name)
        lines = [
            f"FROM {base}",
            "COPY bin/ /usr/local/bin/",
            "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            f"LABEL {INPUTS_LABEL}={key}",
        ]
        if entrypoint:
            lines.append(f'ENTRYPOINT ["/usr/local/bin/{entrypoint}"]')
        (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
        run(
            [docker(), "build", "-q", "-t", ref, str(ctx)],
            env={"DOCKER_BUILDKIT": "0"},
            capture=True,
        )


def busybox() -> str:
    packages.ensure(packages.BUSYBOX, hint="install busybox-static, then run `make up` again")
    data = Path("/bin/busybox").read_bytes()
    ref = f"breakfix/busybox:{_digest(data, DOCKERFILES / 'busybox.Dockerfile')}"
    if not exists(ref):
        with step("building the busybox image from Debian's busybox-static"), _context() as ctx:
            root = ctx / "rootfs"
            for d, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("root", 0o700)):
                (root / d).mkdir(parents=True)
                (root / d).chmod(mode)
            shutil.copy("/bin/busybox", root / "bin/busybox")
            (root / "etc/passwd").write_text(
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
            )
            (root / "etc/group").write_text("root:x:0:\nnobody:x:65534:\n")
            build(ref, "busybox.Dockerfile", ctx, *BUSYBOX_TAGS)
    for tag in BUSYBOX_TAGS:
        run([docker(), "tag", ref, tag], capture=True)
    return ref


def tag(src: str, *dests: str) -> None:
    for dest in dests:
        run([docker(), "tag", src, dest], capture=True)
