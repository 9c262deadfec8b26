"""Node changes of exclusive labs: applied under a lock annotation, recorded, and reverted."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from breakfix.kube.agent import AgentClient, node_address
from breakfix.kube.client import ApiException, Kube
from breakfix.lab.nodes import HOLDER
from breakfix.lab.object_changes import edited, merged, originals, skeleton
from breakfix.lab.object_changes import revert_patch as object_revert_patch
from breakfix.scenario.models import NodeChanges

Obj = dict[str, Any]

# The kubelet writes its Node every few seconds; a patch made under the resourceVersion just read
# may meet a newer one. Read again and re-plan, a few times.
CONFLICT_ATTEMPTS = 5


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


async def patch_current(kube: Kube, name: str, patch_for: Callable[[Obj], Obj]) -> bool:
    """Merge-patch the Node as read just now (False if it is gone); again on a conflict."""
    for attempt in range(CONFLICT_ATTEMPTS):
        node = await kube.get("v1", "Node", name)
        if node is None:
            return False
        try:
            await kube.patch("v1", "Node", name, patch_for(node), "merge")
        except ApiException as exc:
            if exc.status != 409 or attempt == CONFLICT_ATTEMPTS - 1:
                raise
            continue
        return True
    raise AssertionError("unreachable: the last attempt returns or raises")


async def apply_changes(kube: Kube, node_name: str, changes: NodeChanges, lab: str) -> Obj:
    """The API part (lock annotation, cordon, taints, labels); the record also says where the
    node agent is, for `apply_on_host` once the record is safely written."""
    records: list[Obj] = []

    def patch_for(node: Obj) -> Obj:
        patch, record = plan(node, changes, lab)
        records[:] = [record]
        return patch

    if not await patch_current(kube, node_name, patch_for):
        raise LookupError(f"node {node_name} disappeared")
    return records[0]


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
        await revert_objects(kube, record)
        await patch_current(kube, record["node"], functools.partial(revert_patch, record=record))


async def record_objects(kube: Kube, changes: NodeChanges) -> list[Obj]:
    """Each add-on object's change as a merge patch, with the patch that reverts it, computed
    from the object read before anything is changed."""
    records = []
    for change in changes.objects:
        where = f"{change.kind} {change.namespace}/{change.name}"
        before = await kube.get(change.api_version, change.kind, change.name, change.namespace)
        if before is None:
            raise LookupError(f"{where} does not exist")
        edits = {p: [(r.old, r.new) for r in rs] for p, rs in change.edit.items()}
        try:
            patch = merged(change.patch, edited(before, edits))
        except ValueError as exc:
            raise LookupError(f"{where}: {exc}") from None
        records.append(
            {
                "apiVersion": change.api_version,
                "kind": change.kind,
                "namespace": change.namespace,
                "name": change.name,
                "patch": patch,
                "originals": originals(before, merged(skeleton(change.keep), patch)),
            }
        )
    return records


async def apply_objects(kube: Kube, record: Obj) -> None:
    for change in record.get("objects") or []:
        where = (change["apiVersion"], change["kind"], change["name"])
        await kube.patch(*where, change["patch"], "merge", change["namespace"])


async def revert_objects(kube: Kube, record: Obj) -> None:
    for change in record.get("objects") or []:
        where = (change["apiVersion"], change["kind"], change["name"])
        revert = object_revert_patch(change["originals"])
        try:
            await kube.patch(*where, revert, "merge", change["namespace"])
        except ApiException as exc:
            if exc.status != 404:  # gone: nothing to put back
                raise
