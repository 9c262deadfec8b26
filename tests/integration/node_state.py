"""What Node and ControlPlane labs may change, read off the kind nodes themselves: to show
that deleting a lab, broken or fixed, with or without the operator, puts it all back."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.integration.cluster import get_json, wait_until

# On every node: the static-pod manifests, the kubelet's config, flags and unit drop-ins, the
# kubelet's unit state, every file name under /etc/kubernetes (a copy a learner made) and
# /var/backups (an etcd snapshot holds every Secret: an etcd lab removes the one it asked for).
READ = r"""
cd /
for f in etc/kubernetes/manifests/* var/lib/kubelet/config.yaml var/lib/kubelet/kubeadm-flags.env \
         etc/systemd/system/kubelet.service.d/*; do
  [ -f "$f" ] && echo "file $f $(sha256sum < "$f" | cut -c1-16) $(stat -c %a "$f")"
done
find etc/kubernetes var/backups -xdev | sort | sed 's/^/path /'
echo "kubelet $(systemctl is-active kubelet) $(systemctl is-enabled kubelet)"
ls var/lib/breakfix/journal 2>/dev/null | sed 's/^/journal /'
"""


def _engine() -> str:
    return (
        "/usr/bin/docker"
        if subprocess.run(["test", "-x", "/usr/bin/docker"]).returncode == 0
        else "docker"
    )


def node_files(node: str) -> list[str]:
    out = subprocess.run(
        [_engine(), "exec", "-i", node, "bash", "-s"],
        input=READ,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return out.splitlines()


def cluster_state() -> dict[str, Any]:
    nodes = get_json("nodes")["items"]
    state: dict[str, Any] = {}
    for node in nodes:
        name = node["metadata"]["name"]
        ready = next(
            (c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"), None
        )
        state[name] = {
            "ready": ready,
            "unschedulable": bool(node["spec"].get("unschedulable")),
            "taints": sorted(
                json.dumps(t, sort_keys=True)
                for t in node["spec"].get("taints") or []
                # Written by the node controller while a node is briefly unreachable.
                if not t["key"].startswith("node.kubernetes.io/")
            ),
            "held": (node["metadata"].get("annotations") or {}).get("breakfix.dev/held-by"),
            "files": node_files(name),
        }
    corefile = get_json("configmap", "coredns", "-n", "kube-system")["data"]
    state["coredns"] = corefile
    deployment = get_json("deployment", "coredns", "-n", "kube-system")
    template = deployment["spec"]["template"]
    state["coredns-deployment"] = {
        "replicas": deployment["spec"].get("replicas"),
        # A learner's `kubectl rollout restart` is theirs to make; any other change is not.
        "annotations": {
            k: v
            for k, v in (template["metadata"].get("annotations") or {}).items()
            if k != "kubectl.kubernetes.io/restartedAt"
        },
        "volumes": template["spec"].get("volumes"),
    }
    return state


def wait_whole(before: dict[str, Any], timeout: float = 240) -> None:
    """Until the cluster is as `before` (a kubelet just restarted takes a moment to report)."""
    last: list[dict[str, Any]] = [{}]

    def same() -> bool:
        last[0] = cluster_state()
        return last[0] == before

    try:
        wait_until(same, timeout, "the cluster to be as before the lab", interval=3)
    except AssertionError:
        raise AssertionError(
            f"the cluster differs from before: {json.dumps(changes(before, last[0]), indent=1)}"
        ) from None


def changes(before: Any, after: Any) -> Any:
    """Only what differs: for a list (files, taints), the lines gone and the lines new, so a
    stray file is not lost in a node's hundred unchanged ones."""
    if isinstance(before, dict) and isinstance(after, dict):
        return {
            key: changes(before.get(key), after.get(key))
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)
        }
    if isinstance(before, list) and isinstance(after, list):
        return {
            "gone": [x for x in before if x not in after],
            "new": [x for x in after if x not in before],
        }
    return {"before": before, "after": after}
