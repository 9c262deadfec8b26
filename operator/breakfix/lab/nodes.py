"""Which node an exclusive lab changes, and which lab holds a node: pure functions on Nodes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from breakfix import GROUP

HOLDER = f"{GROUP}/held-by"
Obj = dict[str, Any]


def target_node(nodes: Iterable[Obj]) -> str | None:
    """The node an exclusive lab changes: the first Ready node by name, so the choice is the
    same after an operator restart."""
    ready = [
        n["metadata"]["name"]
        for n in nodes
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in n.get("status", {}).get("conditions") or []
        )
    ]
    return min(ready) if ready else None


def holder(node: Obj) -> str | None:
    return (node.get("metadata", {}).get("annotations") or {}).get(HOLDER)
