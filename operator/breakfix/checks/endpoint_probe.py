"""`probe`: a component's own health endpoint on a node, asked from that node by the node agent
(`https://127.0.0.1:10259/healthz` for the scheduler, `:6443/livez` for the API server). Needs no
API server: a lab that takes the API server down shows its symptom through this check."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from breakfix.checks.check_type import NODE_RECHECK_SECONDS, CheckType, Reads, Verdict
from breakfix.checks.snapshot import Need, ProbeNeed, Snapshot


class ProbeCheck(CheckType):
    key: ClassVar[str] = "probe"
    # A component's health endpoint changes nothing in the API: no event says so.
    recheck_seconds: ClassVar[float | None] = NODE_RECHECK_SECONDS
    reads: ClassVar[tuple[Reads, ...]] = (Reads("v1", "nodes", kind="Node"),)

    node: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://(127\.0\.0\.1|localhost)(:\d+)?/")
    healthy: bool = Field(True, description="false: the endpoint must fail (a symptom).")

    def needs(self, namespace: str) -> list[Need]:
        return [ProbeNeed(self.node, self.url)]

    def wakes_on(self, namespace: str) -> set[str]:
        return {"Node", "Pod"}

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        status, body = snapshot.probes.get((self.node, self.url), (0, "not asked"))
        answer = f"HTTP {status}" if status else body
        ok = status == 200
        where = f"{self.url} on {self.node}"
        if ok == self.healthy:
            return Verdict(True, f"{where} answers {answer}" if ok else f"{where} fails: {answer}")
        if self.healthy:
            return Verdict(False, f"{where} is not healthy: {answer}")
        return Verdict(False, f"{where} is healthy ({answer})")
