"""Which node an exclusive lab changes, and which lab holds a node: pure functions on Nodes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from breakfix import GROUP

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
