"""Which node an exclusive lab changes, and which lab holds a node: pure functions on Nodes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from breakfix import GROUP

HOLDER = f"{GROUP}/held-by"
Obj = dict[str, Any]


CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


def target_node(nodes: Iterable[Obj], role: str = "worker", avoid: str | None = None) -> str | None:
    """The node an exclusive lab changes: the first Ready worker by name that does not run the
    operator (`avoid`), so that what the lab breaks never takes the operator down with it; the
    control plane for `role: control-plane`, or on a single-node cluster. Chosen by labels and
    names only, never by taints a lab may have set; the lab keeps its choice in its status."""
    ready = [
        n
        for n in nodes
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in n.get("status", {}).get("conditions") or []
        )
    ]
    planes = [n for n in ready if CONTROL_PLANE in (n["metadata"].get("labels") or {})]
    if role == "control-plane":
        return min((n["metadata"]["name"] for n in planes), default=None)
    workers = [n for n in ready if n not in planes]
    spare = [n for n in workers if n["metadata"]["name"] != avoid]
    names = [n["metadata"]["name"] for n in spare or workers or ready]
    return min(names) if names else None


def holder(node: Obj) -> str | None:
    return (node.get("metadata", {}).get("annotations") or {}).get(HOLDER)


def holders(nodes: Iterable[Obj]) -> dict[str, str]:
    """Lab -> the node it holds. One exclusive lab at a time across the cluster: a broken
    control plane or a NotReady node is the cluster's state, not one namespace's."""
    return {lab: n["metadata"]["name"] for n in nodes if (lab := holder(n))}


def shell_command(node: Obj | None, name: str) -> str:
    """How a learner opens a root shell on node `name`: on kind the node is a container
    (providerID kind://docker/<cluster>/<node>), elsewhere a node debug pod."""
    provider = (node or {}).get("spec", {}).get("providerID") or ""
    if provider.startswith("kind://"):
        engine = provider.removeprefix("kind://").split("/")[0] or "docker"
        return f"{engine} exec -it {name} bash"
    return f"kubectl debug node/{name} -it --profile=sysadmin --image=busybox -- chroot /host bash"


def changes_recorded(lab: Obj | None) -> bool:
    """The Lab has recorded the node it changes (written just before the node is changed)."""
    return bool((lab or {}).get("status", {}).get("nodeChanges"))
