"""A private registry inside the cluster, for labs about pulling images with credentials: the
CNCF distribution registry with htpasswd authentication (manifests/registry.yaml), in namespace
`registry`, and an application image pushed into it.

Every node's containerd reaches it as localhost:NODE_PORT, the Service's NodePort (kube-proxy
answers node ports on the loopback address), and each node has a hosts.toml that says plain HTTP
there. Where the node image was built here, the registry is Debian's `docker-registry` (linked
against glibc: an image FROM scratch with the glibc files it loads), loaded into the nodes like
metrics-server;
the application image is busybox with a page baked in, built by the local engine and copied into
the registry with Debian's skopeo, from the machine, through the NodePort on a node's address.
The registry's storage is an emptyDir: `make up` pushes the image again whenever the registry
lacks it (a replaced pod, a new cluster), and never otherwise."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import images
import packages
from common import HERE, SetupError, log, run, step
from engine import docker

VERSION = "2.8.2"  # Debian bookworm's docker-registry (distribution 2.8.2)
REPOSITORY = "breakfix.local/registry"
# Where kind's own node image is used, the nodes pull the upstream image of the same version.
UPSTREAM_IMAGE = f"docker.io/library/registry:{VERSION}"
NAMESPACE = "registry"
NODE_PORT = 30500
HOST = f"localhost:{NODE_PORT}"  # what the nodes, and so image names in labs, call it
# A lab credential, not a secret: labs hand it to learners in a dockerconfigjson Secret. The
# manifest holds its bcrypt hash (tests/unit/test_kind_registry.py checks that they agree).
USER = "puller"
PASSWORD = "breakfix-lab"
# The application image labs run: busybox's httpd with a page of its own, on port 8080.
APP = "shop/app"
APP_TAG = "1.0"
APP_PAGE = (
    "<!doctype html>\n<title>shop</title>\n"
    f"<h1>shop</h1>\n<p>{APP}:{APP_TAG}, from the team's private registry</p>\n"
)
CERTS_D = "/etc/containerd/certs.d"
# Debian's programs: the registry (for its image) and skopeo (to push without a daemon's trust).
SERVER = {"/usr/bin/docker-registry": "docker-registry"}
SKOPEO = {"/usr/bin/skopeo": "skopeo"}

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def hosts_toml(host: str = HOST) -> str:
    """containerd's registry host configuration (config_path): plain HTTP to `host` itself, for
    pulls only."""
    return (
        f'server = "http://{host}"\n\n'
        f'[host."http://{host}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
    )


def dockerconfigjson(host: str = HOST, user: str = USER, password: str = PASSWORD) -> str:
    """The `.dockerconfigjson` of a kubernetes.io/dockerconfigjson Secret for `host`."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps(
        {"auths": {host: {"username": user, "password": password, "auth": auth}}},
        separators=(",", ":"),
    )


def needs_push(remote_inspect: str | None, key: str) -> bool:
    """Whether the registry lacks the application image as built from these inputs: `skopeo
    inspect`'s answer (None when the registry has no such tag) carries the image's labels."""
    if not remote_inspect:
        return True
    try:
        labels = json.loads(remote_inspect).get("Labels") or {}
    except ValueError:
        return True
    return bool(labels.get(images.INPUTS_LABEL) != key)


def shared_libraries(ldd_output: str) -> list[Path]:
    """The files a dynamically linked program loads, from `ldd`'s output: each library it
    resolved (`libc.so.6 => /lib/.../libc.so.6 (0x...)`) and the loader (`/lib64/ld-linux...`);
    not the kernel's vDSO, which has no file. A library ldd could not find is an error."""
    files = []
    for line in ldd_output.splitlines():
        words = line.split()
        if not words or words[0].startswith("linux-vdso") or words[0] == "statically":
            continue
        if "=>" in words:
            target = words[words.index("=>") + 1]
            if target == "not":
                raise SetupError(f"a library of the registry is missing: {line.strip()}")
            files.append(Path(target))
        elif words[0].startswith("/"):
            files.append(Path(words[0]))
    return files


def image() -> str:
    """Debian's docker-registry in an image FROM scratch, with the glibc files `ldd` says it
    loads (its only dependency): 22 MB, where the Debian base image would add 167 MB to every
    node's `kind load` (about 10 s on a new cluster). Built once per inputs."""
    packages.ensure(SERVER, hint="install docker-registry, then run `make up` again")
    program = Path("/usr/bin/docker-registry")
    libraries = shared_libraries(run(["ldd", str(program)], capture=True).stdout)
    files = [program, *libraries]
    key = images._digest(*(f.resolve() for f in files), *map(str, files),
                         images.DOCKERFILES / "registry.Dockerfile")  # fmt: skip
    # Tagged by its inputs: a new build is a new pod spec, so the Deployment rolls out.
    ref = f"{REPOSITORY}:{VERSION}-{key}"
    if images.exists(ref):
        return ref
    with images._context() as ctx:
        for f in files:
            dest = ctx / "rootfs" / f.relative_to("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f.resolve(), dest)  # the file a symlink names, under the link's name
        (ctx / "rootfs/etc").mkdir()
        (ctx / "rootfs/etc/passwd").write_text("nobody:x:65534:65534:nobody:/:/bin/false\n")
        (ctx / "rootfs/etc/group").write_text("nogroup:x:65534:\n")
        images.build(ref, "registry.Dockerfile", ctx)
    return ref


def configure_nodes(nodes: list[str]) -> None:
    """Each node's containerd pulls from HOST over plain HTTP (config_path is read at each pull:
    no restart). Written on every `up`: a new cluster's nodes start without it."""
    path = f"{CERTS_D}/{HOST}/hosts.toml"
    script = f"mkdir -p '{CERTS_D}/{HOST}' && cat > '{path}.tmp' && mv '{path}.tmp' '{path}'"
    for node in nodes:
        run([docker(), "exec", "-i", node, "sh", "-c", script], input=hosts_toml(), capture=True)


def install(kubectl: Kubectl, local: bool, load: Callable[[str], None], nodes: list[str]) -> None:
    with step(f"configuring the nodes' containerd for the in-cluster registry ({HOST}, HTTP)"):
        configure_nodes(nodes)
    ref = UPSTREAM_IMAGE
    if local:
        with step(f"building the registry image (Debian's docker-registry {VERSION}, cached)"):
            ref = image()
        load(ref)
    with step(f"applying the in-cluster registry (namespace {NAMESPACE}, NodePort {NODE_PORT})"):
        manifest = (HERE / "manifests/registry.yaml").read_text()
        manifest = manifest.replace("REGISTRY_IMAGE", ref)
        manifest = manifest.replace("REGISTRY_NODE_PORT", str(NODE_PORT))
        kubectl("apply", "-f", "-", input=manifest)


def wait(kubectl: Kubectl) -> None:
    kubectl("-n", NAMESPACE, "rollout", "status", "deployment/registry", "--timeout=180s")


def app_image(local: bool) -> tuple[str, str]:
    """(reference, inputs key) of the application image, built by the local engine from the
    busybox image the labs use, once per inputs."""
    base = images.busybox() if local else "docker.io/library/busybox:1.36"
    if not local and not images.exists(base):
        run([docker(), "pull", base], capture=True, hint="the engine must reach Docker Hub")
    base_id = run([docker(), "image", "inspect", "-f", "{{.Id}}", base], capture=True).stdout
    dockerfile = images.DOCKERFILES / "shop-app.Dockerfile"
    key = images._digest(base_id.strip(), dockerfile, APP_PAGE)
    ref = f"breakfix.local/{APP}:{APP_TAG}"
    if images.label(ref, images.INPUTS_LABEL) != key:
        with step(f"building the application image {APP}:{APP_TAG}"), images._context() as ctx:
            (ctx / "www").mkdir()
            (ctx / "www/index.html").write_text(APP_PAGE)
            images.build(ref, "shop-app.Dockerfile", ctx, BASE=base, KEY=key)
    return ref, key


def _push_address(kubectl: Kubectl) -> str:
    """The NodePort on the first node's address: the machine reaches the nodes' network."""
    path = '{.items[0].status.addresses[?(@.type=="InternalIP")].address}'
    out = kubectl("get", "nodes", "-o", f"jsonpath={path}")
    address = out.stdout.strip()
    if not address:
        raise SetupError("no node has an InternalIP to push images to")
    return f"{address}:{NODE_PORT}"


def push(kubectl: Kubectl, local: bool) -> None:
    """The application image into the registry, unless it holds this very build already."""
    packages.ensure(SKOPEO, hint="install skopeo, then run `make up` again")
    ref, key = app_image(local)
    dest = f"docker://{_push_address(kubectl)}/{APP}:{APP_TAG}"
    auth = ["--creds", f"{USER}:{PASSWORD}", "--tls-verify=false"]
    proc = run(["skopeo", "inspect", *auth, "--retry-times", "3", dest], capture=True,
               check=False)  # fmt: skip
    if not needs_push(proc.stdout if proc.returncode == 0 else None, key):
        log(f"the in-cluster registry holds {APP}:{APP_TAG} already")
        return
    with (
        step(f"pushing {APP}:{APP_TAG} into the in-cluster registry"),
        tempfile.TemporaryDirectory(prefix="breakfix-push.") as tmp,
    ):
        archive = Path(tmp) / "app.tar"
        run([docker(), "save", "-o", str(archive), ref], capture=True)
        run(["skopeo", "copy", "--retry-times", "3", "--dest-creds", f"{USER}:{PASSWORD}",
             "--dest-tls-verify=false", f"docker-archive:{archive}", dest],
            capture=True, hint="kubectl -n registry logs deploy/registry")  # fmt: skip
