"""`audited`: the API server writes a real request to its audit log at the level its policy
gives that request. The node agent on the API server's node GETs an API path with a kubeconfig
there and finds the event by the Audit-Id the API server answered with: flags in a manifest
and a policy file prove nothing until the API server that runs reads them, and a policy that
logs everything at the top level is as wrong as one that logs nothing. `level: None` asks that
the request be left out of a log that exists."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from breakfix.agent.audit import AUDIT_LOG
from breakfix.agent.credentials import API_PATH, KUBECONFIG
from breakfix.checks.check_type import NodeRequestCheck, Verdict
from breakfix.checks.snapshot import AuditNeed, Snapshot

Level = Literal["None", "Metadata", "Request", "RequestResponse"]


class AuditedCheck(NodeRequestCheck):
    key: ClassVar[str] = "audited"

    node: str = Field(min_length=1)
    get: str = Field(
        pattern=API_PATH.pattern,
        description="The API path read, e.g. /api/v1/namespaces/<namespace>/secrets/<name>.",
    )
    log: str = Field(pattern=AUDIT_LOG.pattern, description="The audit log's path on the node.")
    level: Level = Field(description="The level the request must be logged at (None: not at all).")
    kubeconfig: str = Field("/etc/kubernetes/admin.conf", pattern=KUBECONFIG.pattern)
    why: str | None = Field(None, description="Told to the learner when the check fails.")

    def need(self) -> AuditNeed:
        return AuditNeed(self.node, self.kubeconfig, self.get, self.log)

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        answer = snapshot.audits.get(self.need()) or {}
        because = f" ({self.why})" if self.why else ""
        request = f"GET {self.get}"
        status = int(answer.get("status") or 0)
        if status == 0 or not answer.get("auditID"):
            error = answer.get("error") or "no answer"
            return Verdict(False, f"{request} on {self.node} got no answer: {error}")
        if not answer.get("log"):
            return Verdict(False, f"there is no audit log at {self.log} on {self.node}{because}")
        event = answer.get("event")
        if event is None:
            if self.level == "None":
                return Verdict(True, f"{request} is left out of {self.log}, as it should be")
            return Verdict(
                False, f"{request} is not in {self.log}; it should be, at {self.level}{because}"
            )
        level = str(event.get("level", ""))
        if level != self.level:
            expected = "not at all" if self.level == "None" else f"at {self.level}"
            return Verdict(
                False, f"{request} is logged at {level}; it should be {expected}{because}"
            )
        return Verdict(True, f"{request} is logged at {level} in {self.log}")
