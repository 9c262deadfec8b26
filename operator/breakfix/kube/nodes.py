"""Node changes of exclusive labs: applied under a lock annotation, recorded, and reverted."""

from __future__ import annotations

from typing import Any

from breakfix.kube.agent import AgentClient, node_address
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
    record: Obj = {
        "node": node["metadata"]["name"],
        "taints": [{"key": k, "effect": e} for k, e in sorted(keys)],
        "unschedulable": bool(spec.get("unschedulable", False)),
        "labels": {k: labels_before.get(k) for k in changes.labels},
    }
    if changes.on_host:
        # Where the agent is, kept so that the repair needs no API read.
        record["agent"] = node_address(node)
        record["lab"] = lab
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
    """The API part (lock annotation, cordon, taints, labels); the record also says where the
    node agent is, for `apply_on_host` once the record is safely written."""
    node = await kube.get("v1", "Node", node_name)
    if node is None:
        raise LookupError(f"node {node_name} disappeared")
    patch, record = plan(node, changes, lab)
    await kube.patch("v1", "Node", node_name, patch, "merge")
    return record


async def apply_on_host(agent: AgentClient, record: Obj, changes: NodeChanges, lab: str) -> None:
    if changes.on_host:
        if not record.get("agent"):
            raise LookupError(f"node {record['node']} has no InternalIP for its node agent")
        await agent.apply(record["agent"], lab, changes)


async def revert_changes(kube: Kube, records: list[Obj], agent: AgentClient | None = None) -> None:
    """The node first (a control-plane lab may have the API server down), then the API part."""
    for record in records:
        if record.get("agent"):
            await (agent or AgentClient.from_env()).restore(record["agent"], record["lab"])
        node = await kube.get("v1", "Node", record["node"])
        if node is not None:
            await kube.patch("v1", "Node", record["node"], revert_patch(node, record), "merge")
