"""`credential`: a kubeconfig on a node really works, as the identity it should carry. The node
agent makes a real request with it (a SelfSubjectReview) and reports who the API server says it
is: a certificate that expired, is signed by another CA, or belongs to another component fails,
however healthy that component looks."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from breakfix.agent.credentials import API_PATH, KUBECONFIG
from breakfix.checks.check_type import NodeRequestCheck, Verdict
from breakfix.checks.snapshot import CredentialNeed, Snapshot


class CredentialCheck(NodeRequestCheck):
    key: ClassVar[str] = "credential"

    node: str = Field(min_length=1)
    kubeconfig: str = Field(pattern=KUBECONFIG.pattern)
    user: str = Field(min_length=1, description="The username the API server must see.")
    groups: list[str] | None = Field(
        None,
        description="Exactly these groups (besides system:authenticated): a certificate that "
        "also claims system:masters is another identity.",
    )
    refused: bool = Field(
        False,
        description="A symptom: the API server refuses the credential (HTTP 401), as a "
        "certificate it does not trust is refused.",
    )
    get: str | None = Field(
        None,
        pattern=API_PATH.pattern,
        description="An API path the credential must be allowed to read (HTTP 200), e.g. "
        "/api/v1/namespaces/<namespace>/pods: authorization, not just authentication.",
    )

    def need(self) -> CredentialNeed:
        return CredentialNeed(self.node, self.kubeconfig, self.get or "")

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        answer = snapshot.identities.get((self.node, self.kubeconfig, self.get or "")) or {}
        where = f"{self.kubeconfig} on {self.node}"
        status = int(answer.get("status") or 0)
        if self.refused:
            if status == 401:
                return Verdict(True, f"the API server refuses {where}: Unauthorized")
            return Verdict(
                False,
                f"a request with {where} is not refused as Unauthorized: "
                f"{answer.get('error') or f'HTTP {status}'}",
            )
        if status == 0 or status >= 300:
            error = answer.get("error") or f"HTTP {status}"
            return Verdict(False, f"a request with {where} fails: {error}")
        user = answer.get("user", "")
        if user != self.user:
            return Verdict(
                False, f"{where} authenticates as {user or 'nobody'}, not as {self.user}"
            )
        if self.groups is not None:
            groups = sorted(set(answer.get("groups") or []) - {"system:authenticated"})
            if groups != sorted(set(self.groups)):
                return Verdict(
                    False,
                    f"{where} authenticates as {user} in groups {', '.join(groups) or 'none'}, "
                    f"not in {', '.join(sorted(self.groups)) or 'none'}",
                )
        if self.get:
            read = answer.get("get") or {}
            if read.get("status") != 200:
                why = read.get("error") or f"HTTP {read.get('status') or 'no answer'}"
                return Verdict(False, f"{where}: GET {self.get} is refused: {why}")
            return Verdict(True, f"{where} authenticates as {self.user} and may GET {self.get}")
        return Verdict(True, f"{where} authenticates as {self.user}")
