"""`credential`: a kubeconfig on a node really works, as the identity it should carry. The node
agent makes a real request with it (a SelfSubjectReview) and reports who the API server says it
is: a certificate that expired, is signed by another CA, or belongs to another component fails,
however healthy that component looks."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.snapshot import CredentialNeed, Need, Snapshot


class CredentialCheck(CheckType):
    key: ClassVar[str] = "credential"
    reads: ClassVar[tuple[Reads, ...]] = (Reads("v1", "nodes", kind="Node"),)

    node: str = Field(min_length=1)
    kubeconfig: str = Field(pattern=r"^/etc/kubernetes/[a-z-]+\.conf$")
    user: str = Field(min_length=1, description="The username the API server must see.")

    def needs(self, namespace: str) -> list[Need]:
        return [CredentialNeed(self.node, self.kubeconfig)]

    def wakes_on(self, namespace: str) -> set[str]:
        # A component restarted with a new credential shows as its mirror pod changing.
        return {"Node", "Pod"}

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        answer = snapshot.identities.get((self.node, self.kubeconfig)) or {}
        where = f"{self.kubeconfig} on {self.node}"
        status = int(answer.get("status") or 0)
        if status == 0 or status >= 300:
            error = answer.get("error") or f"HTTP {status}"
            return Verdict(False, f"a request with {where} fails: {error}")
        user = answer.get("user", "")
        if user != self.user:
            return Verdict(
                False, f"{where} authenticates as {user or 'nobody'}, not as {self.user}"
            )
        return Verdict(True, f"{where} authenticates as {self.user}")
