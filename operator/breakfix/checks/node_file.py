"""`nodeFile`: a configuration file on a node (a static-pod manifest, the kubelet's config or
flags) holds, or no longer holds, given text. Read by the node agent on that node: for what the
API cannot show, such as the kubelet's configuration on disk, which is what the node runs after
its next restart. Re-read whenever the lab wakes (its node changes: a kubelet restarted)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from breakfix.checks.check_type import NODE_RECHECK_SECONDS, CheckType, Reads, Verdict
from breakfix.checks.snapshot import Need, NodeFileNeed, Snapshot


class NodeFileCheck(CheckType):
    key: ClassVar[str] = "nodeFile"
    # A file edited on the node changes nothing in the API: no event says so.
    recheck_seconds: ClassVar[float | None] = NODE_RECHECK_SECONDS
    reads: ClassVar[tuple[Reads, ...]] = (Reads("v1", "nodes", kind="Node"),)

    node: str = Field(min_length=1)
    path: str = Field(pattern=r"^/")
    contains: list[str] = Field(default_factory=list)
    excludes: list[str] = Field(
        default_factory=list, description="Text that must not occur (a wrong value)."
    )
    why: str | None = Field(None, description="Told to the learner when the check fails.")

    def needs(self, namespace: str) -> list[Need]:
        return [NodeFileNeed(self.node, self.path)]

    def wakes_on(self, namespace: str) -> set[str]:
        return {"Node"}

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        text = snapshot.files.get((self.node, self.path))
        because = f" ({self.why})" if self.why else ""
        if text is None:
            return Verdict(False, f"{self.path} on {self.node} does not exist{because}")
        missing = [t for t in self.contains if t not in text]
        present = [t for t in self.excludes if t in text]
        if missing or present:
            parts = [f"lacks {t!r}" for t in missing] + [f"still has {t!r}" for t in present]
            return Verdict(False, f"{self.path} on {self.node} " + ", ".join(parts) + because)
        return Verdict(True, f"{self.path} on {self.node} is as it should be")
