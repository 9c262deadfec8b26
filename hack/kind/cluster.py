"""The kind cluster: created from the node image, networked, and waited on until it can run labs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import ingress
import metrics
import registry

import engine
import nodeimage
from common import HERE, STATE, SetupError, log, run, step

NAME = os.environ.get("KIND_CLUSTER", "breakfix")
WORKERS = int(os.environ.get("BREAKFIX_WORKERS", "2"))
KUBECONFIG = STATE / "kind" / f"{NAME}.kubeconfig"
# kind's default node image (kind v0.33.0), pinned by digest, for engines that can pull it.
KINDEST_NODE = (
    "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
)


# The nodes' CNI configuration (kube-router's bridge); each node's copy names its pod range.
CNI_CONFLIST = {
    "cniVersion": "0.3.1",
    "name": "kube-router",
    "plugins": [
        {"name": "kubernetes", "type": "bridge", "bridge": "kube-bridge",
         "isDefaultGateway": True, "hairpinMode": True, "ipam": {"type": "host-local"}},
        {"type": "portmap", "capabilities": {"snat": True, "portMappings": True}},
    ],
}  # fmt: skip
CNI_FILE = "/etc/cni/net.d/10-kuberouter.conflist"

CREATE_HINT = "`make down` then `make up`; if a port is taken, stop what holds 127.0.0.1:6443+"


def kind() -> str:
    return nodeimage.go_tool("kind").as_posix()


def kubectl(
    *args: str, input: str | None = None, check: bool = True, capture: bool = True
) -> subprocess.CompletedProcess[str]:
    return run(
        [str(nodeimage.kubernetes() / "kubectl"), f"--kubeconfig={KUBECONFIG}", *args],
        input=input,
        capture=capture,
        check=check,
    )


def exists() -> bool:
    out = run([kind(), "get", "clusters"], capture=True, check=False).stdout.split()
    return NAME in out


def healthy() -> bool:
    if not exists() or not KUBECONFIG.exists():
        return False
    proc = kubectl("get", "nodes", "-o", "json", check=False)
    if proc.returncode != 0:
        return False
    nodes = json.loads(proc.stdout)["items"]
    return len(nodes) == WORKERS + 1 and all(_ready(n) for n in nodes)


def _ready(node: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in node.get("status", {}).get("conditions", [])
    )


def config(local_image: bool) -> str:
    nodes = "\n".join(["  - role: control-plane", *["  - role: worker"] * WORKERS])
    networking = (
        # Ranges nothing else on these machines uses; kube-router replaces kindnet.
        "networking:\n  disableDefaultCNI: true\n  podSubnet: 10.244.0.0/16\n"
        "  serviceSubnet: 10.96.0.0/16\n"
        if local_image
        else "networking:\n  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/16\n"
    )
    return (
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
        f"{networking}nodes:\n{nodes}\n"
        # Kubernetes 1.35+ refuses cgroup v1 hosts unless told otherwise; harmless on v2.
        "kubeadmConfigPatches:\n  - |\n    kind: KubeletConfiguration\n    failCgroupV1: false\n"
        # A node whose kubelet stopped is NotReady after 25 s instead of 50 (its lease is renewed
        # every 10 s): node labs show their symptom sooner. kind's own extra argument is kept.
        "  - |\n    kind: ClusterConfiguration\n    controllerManager:\n      extraArgs:\n"
        '        - name: enable-hostpath-provisioner\n          value: "true"\n'
        "        - name: node-monitor-grace-period\n          value: 25s\n"
    )


def node_image() -> tuple[str, bool]:
    """(image, built here). kind's own image where the engine can pull (an engine found running,
    on a machine with registry access); otherwise one built here from pinned sources."""
    if given := os.environ.get("BREAKFIX_NODE_IMAGE"):
        return given, given.startswith("breakfix/")
    if engine.started_here() or os.environ.get("BREAKFIX_BUILD_NODE_IMAGE") == "1":
        return nodeimage.ensure(), True
    return KINDEST_NODE, False


def up(
    created: Callable[[str | None], None] | None = None,
    routed: Callable[[], None] | None = None,
    preload: Callable[[], str] | None = None,
) -> None:
    """`created` runs once kind has created the nodes (or found them running), beside the waits
    for them to be ready (loading the operator image needs the nodes' containerd, not a Ready
    cluster; loaded during kind's own set-up, it slowed both on two cores: 81 s to the
    operator, not 75), and is told which image the nodes were created with already in them;
    `routed` once the nodes are Ready and route pods to each other, beside the wait for DNS
    and storage (the operator needs neither). `preload` names an image to put into a node
    image built here before the cluster is created from it (nodeimage.with_image)."""
    restarted = engine.ensure()
    image, local = node_image()
    preloaded = None
    if exists() and (restarted or _nodes_restarted()):
        # Its nodes were restarted by the engine with new addresses, and stale pod routes: it
        # may look Ready while pods cannot reach the API server for minutes. Start clean.
        log(f"kind cluster {NAME} outlived its engine: recreating it")
        down()
    if exists() and local and not _made_from(image):
        log(f"kind cluster {NAME} runs an older node image: recreating it")
        down()
    if healthy():
        log(f"kind cluster {NAME} already running and healthy")
        if created:
            created(None)
        if routed:
            routed()
        # A cluster made before the controller was part of it gets it now, and metrics-server,
        # and the registry (whose emptyDir may have lost the labs' image with its pod).
        ingress.install(kubectl, local)
        metrics.install(kubectl, local, load)
        registry.install(kubectl, local, load, _nodes())
        with step("waiting for metrics-server and the registry"):
            metrics.wait(kubectl)
            registry.wait(kubectl)
        registry.push(kubectl, local)
        return
    if exists():
        log(f"kind cluster {NAME} exists but is not healthy: deleting it first")
        down()
    if preload and local:
        preloaded = preload()
        image = nodeimage.with_image(image, preloaded)
    KUBECONFIG.parent.mkdir(parents=True, exist_ok=True)
    cfg = KUBECONFIG.parent / f"{NAME}.yaml"
    cfg.write_text(config(local))
    with step(f"creating kind cluster {NAME} (1 control-plane, {WORKERS} workers)"):
        run(
            [
                kind(),
                "create",
                "cluster",
                "--name",
                NAME,
                "--image",
                image,
                "--config",
                cfg,
                "--kubeconfig",
                KUBECONFIG,
                "--retain",
            ],
            hint=CREATE_HINT,
        )
    if created:
        created(preloaded)
    if local:
        # Before any node is Ready (none has a CNI configuration yet), so no pod has started.
        _keep_dns_local()
        with step("writing each node's pod range into its CNI configuration, and routes"):
            _seed_pod_network()
    if local:
        with step("starting kube-router (pod routes between nodes, NetworkPolicy)"):
            manifest = (HERE / "manifests/kube-router.yaml").read_text()
            manifest = manifest.replace("CNI_CONFLIST", json.dumps(CNI_CONFLIST))
            manifest = manifest.replace("KUBE_ROUTER_IMAGE", nodeimage.KUBE_ROUTER_IMAGE)
            manifest = manifest.replace("API_SERVER", f"{NAME}-control-plane")
            kubectl("apply", "-f", "-", input=manifest)
    with step("waiting for the nodes to be Ready and route pods"):
        kubectl("wait", "--for=condition=Ready", "nodes", "--all", "--timeout=180s")
        if local:
            _wait_pod_routes()
    if routed:
        routed()
    ingress.install(kubectl, local)
    metrics.install(kubectl, local, load)
    registry.install(kubectl, local, load, _nodes())
    with step("waiting for DNS, storage, the ingress controller, metrics-server and the registry"):
        kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=180s")
        kubectl(
            "-n",
            "local-path-storage",
            "rollout",
            "status",
            "deployment/local-path-provisioner",
            "--timeout=180s",
        )
        ingress.wait(kubectl)
        metrics.wait(kubectl)
        registry.wait(kubectl)
    registry.push(kubectl, local)
    # Also in the user's kubeconfig, as kind does by default.
    run([kind(), "export", "kubeconfig", "--name", NAME], capture=True, check=False)


def _made_from(image: str) -> bool:
    """Whether the nodes run `image`, or its copy with the operator image in it (named by the
    node image's tag and the operator's): one made before a component was added lacks it."""
    used = run([engine.docker(), "inspect", "-f", "{{.Config.Image}}", f"{NAME}-control-plane"],
               capture=True, check=False).stdout.strip()  # fmt: skip
    return used == image or used.rpartition(":")[2].startswith(image.rpartition(":")[2] + "-")


def _nodes_restarted() -> bool:
    """A node container started long after it was created was restarted by its engine."""
    names = run([kind(), "get", "nodes", "--name", NAME], capture=True, check=False).stdout.split()
    for name in names:
        out = run([engine.docker(), "inspect", "-f", "{{.Created}} {{.State.StartedAt}}", name],
                  capture=True, check=False).stdout.split()  # fmt: skip
        if len(out) == 2:
            created, started = (datetime.fromisoformat(t[:26].rstrip("Z")) for t in out)
            if (started - created).total_seconds() > 120:
                return True
    return False


def _pod_ranges() -> dict[str, tuple[str | None, str]]:
    """Node name -> (its pod range, once allocated; its InternalIP)."""
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    return {
        n["metadata"]["name"]: (
            n["spec"].get("podCIDR"),
            next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP"),
        )
        for n in nodes
    }


def _seed_pod_network(timeout: float = 60) -> None:
    """Each node's CNI configuration with its pod range, and its routes to the other nodes'
    ranges, written once the ranges are allocated and kube-proxy serves the API server's
    cluster IP on every node. kube-router writes the same once it runs; a pod whose sandbox
    was made before that (the operator's, in every `make up`) failed with "no IP ranges" and
    was tried again only 15 s later. A pod started before kube-proxy's rules (the node is Ready
    as soon as it has a CNI configuration) sent its first request to 10.96.0.1 nowhere: CoreDNS
    hung 30 s on it. kube-router keeps the file and replaces the routes with its own."""
    deadline = time.monotonic() + timeout
    while True:
        ranges = _pod_ranges()
        if (
            len(ranges) == WORKERS + 1
            and all(cidr for cidr, _ in ranges.values())
            and all(_serves_cluster_ips(name) for name in ranges)
        ):
            break
        if time.monotonic() > deadline:
            raise SetupError(
                f"nodes without a pod range after {timeout:.0f}s: {ranges}",
                "kubectl -n kube-system logs -l component=kube-controller-manager",
            )
        time.sleep(0.5)
    for name, (cidr, _) in ranges.items():
        conflist = json.loads(json.dumps(CNI_CONFLIST))
        conflist["plugins"][0]["ipam"]["ranges"] = [[{"subnet": cidr}]]
        routes = "".join(
            f" && ip route replace {other_cidr} via {ip}"
            for other, (other_cidr, ip) in ranges.items()
            if other != name
        )
        script = f"cat > {CNI_FILE}.tmp && mv {CNI_FILE}.tmp {CNI_FILE}{routes}"
        run([engine.docker(), "exec", "-i", name, "sh", "-c", script], input=json.dumps(conflist))


def _serves_cluster_ips(node: str) -> bool:
    """Whether kube-proxy on `node` has written the API server's Service rule."""
    rules = run([engine.docker(), "exec", node, "iptables-save", "-t", "nat"], capture=True,
                check=False).stdout  # fmt: skip
    return "default/kubernetes:https cluster IP" in rules


def _wait_pod_routes(timeout: float = 180) -> None:
    """Every node routes every other node's pod range to that node: until then a pod's packets
    to the API server get no reply, and a lab started then sees nothing happen."""
    want = _pod_ranges()
    deadline = time.monotonic() + timeout
    while True:
        missing = []
        for name in want:
            routes = run([engine.docker(), "exec", name, "ip", "route"], capture=True,
                         check=False).stdout  # fmt: skip
            missing += [
                f"{name} -> {cidr} via {ip}"
                for other, (cidr, ip) in want.items()
                if other != name and f"{cidr} via {ip} " not in routes
            ]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise SetupError(f"pod routes missing after {timeout:.0f}s: {', '.join(missing)}",
                             "kubectl -n kube-system logs ds/kube-router")  # fmt: skip
        time.sleep(1)


def _keep_dns_local() -> None:
    """Cluster DNS answers for the cluster only: forwarding other names would send queries off
    the machine, and no lab needs an outside name."""
    cm = json.loads(
        kubectl("-n", "kube-system", "get", "configmap", "coredns", "-o", "json").stdout
    )
    corefile = cm["data"]["Corefile"]
    local = re.sub(r"\n\s*forward \. /etc/resolv\.conf \{[^}]*\}", "", corefile)
    if local != corefile:
        patch = json.dumps({"data": {"Corefile": local}})
        kubectl("-n", "kube-system", "patch", "configmap", "coredns", "--type=merge", "-p", patch)
        listed = kubectl("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "json")
        pods = json.loads(listed.stdout)["items"]
        if any(p.get("status", {}).get("containerStatuses") for p in pods):
            # Started with the old Corefile (a cluster made before this ran first).
            kubectl("-n", "kube-system", "rollout", "restart", "deployment/coredns")


def _nodes() -> list[str]:
    return run([kind(), "get", "nodes", "--name", NAME], capture=True).stdout.split()


def load(image: str) -> None:
    """Into every node: the operator runs on a worker, the node agent on every node."""
    nodes = _nodes()
    with step(f"loading {image} into {', '.join(sorted(nodes))}"):
        run([kind(), "load", "docker-image", "--name", NAME, image], capture=True)


def down() -> None:
    if engine.answers() and exists():
        with step(f"deleting kind cluster {NAME}"):
            run(
                [kind(), "delete", "cluster", "--name", NAME, "--kubeconfig", KUBECONFIG],
                capture=True,
            )
    KUBECONFIG.unlink(missing_ok=True)


def memory() -> str:
    out = run(
        [engine.docker(), "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"],
        capture=True,
        check=False,
    ).stdout
    return out.strip()


def kubeconfig() -> Path:
    return KUBECONFIG


def wait_api(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while kubectl("get", "--raw=/readyz", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise SetupError("the API server did not answer")
        time.sleep(1)
