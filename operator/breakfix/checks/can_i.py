"""`canI`: a SubjectAccessReview: may `subject` do `verb` on `resource`?"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from breakfix.checks.check_type import INFORMER_SETTLE_SECONDS, READ, CheckType, Reads, Verdict
from breakfix.checks.models import Model
from breakfix.checks.snapshot import AccessNeed, Need, Snapshot

RBAC = "rbac.authorization.k8s.io/v1"


class Subject(Model):
    kind: Literal["ServiceAccount", "User", "Group"]
    name: str
    namespace: str | None = None


def identity(subject: Subject, namespace: str) -> tuple[str, tuple[str, ...]]:
    """The user name and groups the API server authenticates `subject` as."""
    if subject.kind == "ServiceAccount":
        sa_namespace = subject.namespace or namespace
        return f"system:serviceaccount:{sa_namespace}:{subject.name}", (
            "system:serviceaccounts",
            f"system:serviceaccounts:{sa_namespace}",
            "system:authenticated",
        )
    if subject.kind == "Group":
        return "breakfix:probe", (subject.name, "system:authenticated")
    return subject.name, ("system:authenticated",)


class CanICheck(CheckType):
    settle_seconds: ClassVar[float | None] = INFORMER_SETTLE_SECONDS
    key: ClassVar[str] = "canI"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("authorization.k8s.io/v1", "subjectaccessreviews", ("create",)),
        # Not read, but the answer changes with them: watched to wake the lab.
        Reads(RBAC, "roles", READ, "Role"),
        Reads(RBAC, "rolebindings", READ, "RoleBinding"),
        Reads(RBAC, "clusterroles", READ, "ClusterRole"),
        Reads(RBAC, "clusterrolebindings", READ, "ClusterRoleBinding"),
    )

    subject: Subject
    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str | None = Field(
        None, description="Defaults to the lab namespace; empty string for a cluster-wide check."
    )
    allowed: bool = True

    def access_need(self, namespace: str) -> AccessNeed:
        user, groups = identity(self.subject, namespace)
        return AccessNeed(
            user=user,
            groups=groups,
            verb=self.verb,
            resource=self.resource,
            group=self.group,
            subresource=self.subresource,
            name=self.name,
            namespace=namespace if self.namespace is None else self.namespace,
        )

    def needs(self, namespace: str) -> list[Need]:
        return [self.access_need(namespace)]

    def wakes_on(self, namespace: str) -> set[str]:
        # An access review's answer changes with cluster-wide RBAC too.
        return {"ClusterRole", "ClusterRoleBinding"}

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        need = self.access_need(namespace)
        allowed = snapshot.access.get(need)
        who = f"{self.subject.kind} {self.subject.name}"
        resource = self.resource + (f"/{self.subresource}" if self.subresource else "")
        if self.group:
            resource += f".{self.group}"
        where = f" in namespace {need.namespace}" if need.namespace else " cluster-wide"
        if allowed is None:
            return Verdict(False, f"no access review answer for {who}")
        verb = "can" if allowed else "cannot"
        text = f"{who} {verb} {self.verb} {resource}{where}"
        if allowed == self.allowed:
            return Verdict(True, text)
        return Verdict(False, text + (" (it should)" if self.allowed else " (it should not)"))
