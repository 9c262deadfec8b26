"""`nodeReady`: a Node is Ready and, unless `schedulable: false`, not cordoned. For node labs:
`name: "{{ node }}"` is the node the lab changed."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import condition, live, name_of
from breakfix.checks.snapshot import Need, ObjectsNeed, Snapshot


class NodeReadyCheck(CheckType):
    key: ClassVar[str] = "nodeReady"
    reads: ClassVar[tuple[Reads, ...]] = (Reads("v1", "nodes", kind="Node"),)

    name: str = Field(min_length=1)
    schedulable: bool = Field(True, description="Also require that the node is not cordoned.")

    def needs(self, namespace: str) -> list[Need]:
        return [ObjectsNeed("v1", "Node", "")]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        found = [n for n in live(snapshot.list("v1", "Node", "")) if name_of(n) == self.name]
        if not found:
            return Verdict(False, f"no Node named {self.name}")
        node = found[0]
        ready = condition(node, "Ready") or {}
        if ready.get("status") != "True":
            why = ready.get("reason") or "no Ready condition"
            detail = f": {ready['message']}" if ready.get("message") else ""
            return Verdict(False, f"node {self.name} is not Ready ({why}{detail})")
        if self.schedulable and node.get("spec", {}).get("unschedulable"):
            return Verdict(False, f"node {self.name} is Ready but cordoned (SchedulingDisabled)")
        return Verdict(
            True, f"node {self.name} is Ready" + (" and schedulable" if self.schedulable else "")
        )
