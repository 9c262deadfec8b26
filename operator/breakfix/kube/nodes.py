"""Node changes of exclusive labs: applied under a lock annotation, recorded, and reverted."""

from __future__ import annotations

from typing import Any

from breakfix.kube.client import Kube
from breakfix.lab.nodes import HOLDER
from breakfix.scenario.models import NodeChanges

Obj = dict[str, Any]


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
