"""`patchAs`: what the API server, admission included, answers a write made with a kubeconfig on
a node: a merge patch sent with dryRun=All by the node agent, so nothing is written. For rules
that only admission enforces, on identities that live on nodes: NodeRestriction refuses a
kubelet the labels under node-restriction.kubernetes.io/ on its own Node, which RBAC and the Node
authorizer allow it, and an access review cannot show."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field

from breakfix.agent.credentials import API_PATH, KUBECONFIG
from breakfix.checks.check_type import NodeRequestCheck, Verdict
from breakfix.checks.snapshot import PatchAsNeed, Snapshot


class PatchAsCheck(NodeRequestCheck):
    key: ClassVar[str] = "patchAs"

    node: str = Field(min_length=1)
    kubeconfig: str = Field(pattern=KUBECONFIG.pattern)
    path: str = Field(pattern=API_PATH.pattern, description="The API path patched.")
    patch: dict[str, Any] = Field(description="A JSON merge patch.")
    allowed: bool
    message_contains: str | None = Field(
        None,
        alias="messageContains",
        description="Text the refusal must carry (which rule refused it), when not allowed.",
    )
    why: str | None = Field(None, description="Told to the learner when the check fails.")

    def need(self) -> PatchAsNeed:
        body = json.dumps(self.patch, sort_keys=True)
        return PatchAsNeed(self.node, self.kubeconfig, self.path, body)

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        answer = snapshot.patches.get(self.need()) or {}
        status = int(answer.get("status") or 0)
        error = str(answer.get("error") or "")
        because = f" ({self.why})" if self.why else ""
        write = f"a patch of {self.path} with {self.kubeconfig} on {self.node}"
        # No answer, or one that is not about this write (the credential refused, the API
        # server in trouble), says nothing about what admission would do.
        if status == 0 or status == 401 or status >= 500:
            return Verdict(False, f"{write} got no answer from admission: {error or status}")
        if status < 300:
            if self.allowed:
                return Verdict(True, f"{write} is allowed")
            return Verdict(False, f"{write} is allowed{because}")
        if self.allowed:
            return Verdict(False, f"{write} is refused: {error}{because}")
        if self.message_contains and self.message_contains not in error:
            return Verdict(
                False,
                f"{write} is refused, but not for {self.message_contains!r}: {error}{because}",
            )
        return Verdict(True, f"{write} is refused: {error}")
