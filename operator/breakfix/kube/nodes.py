"""Node changes of exclusive labs: applied under a lock annotation, recorded, and reverted."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from breakfix import GROUP
from breakfix.kube.client import Kube
from breakfix.scenario.models import NodeChanges

HOLDER = f"{GROUP}/held-by"
Obj = dict[str, Any]


CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


def target_node(nodes: Iterable[Obj]) -> str | None:
    """The node an exclusive lab changes: the first Ready worker by name (the control plane on a
    single-node cluster). Chosen by labels and names only, never by taints a lab may have set,
    so the choice is the same after an operator restart."""
    ready = [
        n
        for n in nodes
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in n.get("status", {}).get("conditions") or []
        )
    ]
    workers = [n for n in ready if CONTROL_PLANE not in (n["metadata"].get("labels") or {})]
    names = [n["metadata"]["name"] for n in workers or ready]
    return min(names) if names else None


def holder(node: Obj) -> str | None:
    return (node.get("metadata", {}).get("annotations") or {}).get(HOLDER)


def plan(node: Obj, changes: NodeChanges, lab: str) -> tuple[Obj, Obj]:
    """(merge patch applying the changes, record needed to revert them)."""
    spec = node.get("spec", {})
    existing = list(spec.get("taints") or [])
    ours = [t.model_dump(exclude_none=True) for t in changes.taints]
    keys = {(t["key"], t["effect"]) for t in ours}
    taints = [t for t in existing if (t.get("key"), t.get("effect")) not in keys] + ours
    patch: Obj = {
        "metadata": {
            "resourceVersion": node["metadata"]["resourceVersion"],
            "annotations": {HOLDER: lab},
        },
        "spec": {"taints": taints},
    }
    labels_before = node["metadata"].get("labels") or {}
    if changes.labels:
        patch["metadata"]["labels"] = changes.labels
    if changes.unschedulable is not None:
        patch["spec"]["unschedulable"] = changes.unschedulable
    record = {
        "node": node["metadata"]["name"],
        "taints": [{"key": k, "effect": e} for k, e in sorted(keys)],
        "unschedulable": bool(spec.get("unschedulable", False)),
        "labels": {k: labels_before.get(k) for k in changes.labels},
    }
    return patch, record


def revert_patch(node: Obj, record: Obj) -> Obj:
    keys = {(t["key"], t["effect"]) for t in record.get("taints") or []}
    taints = [
        t
        for t in node.get("spec", {}).get("taints") or []
        if (t.get("key"), t.get("effect")) not in keys
    ]
    return {
        "metadata": {
            "resourceVersion": node["metadata"]["resourceVersion"],
            "annotations": {HOLDER: None},
            "labels": dict(record.get("labels") or {}),
        },
        "spec": {
            "taints": taints or None,
            "unschedulable": True if record.get("unschedulable") else None,
        },
    }


async def apply_changes(kube: Kube, node_name: str, changes: NodeChanges, lab: str) -> Obj:
    node = await kube.get("v1", "Node", node_name)
    if node is None:
        raise LookupError(f"node {node_name} disappeared")
    patch, record = plan(node, changes, lab)
    await kube.patch("v1", "Node", node_name, patch, "merge")
    return record


async def revert_changes(kube: Kube, records: list[Obj]) -> None:
    for record in records:
        node = await kube.get("v1", "Node", record["node"])
        if node is not None:
            await kube.patch("v1", "Node", record["node"], revert_patch(node, record), "merge")
