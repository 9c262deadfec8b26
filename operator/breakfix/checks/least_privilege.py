"""`leastPrivilege`: everything a subject may do, computed from the RBAC objects (see
rbac_rights.py), lies within an allowed set. Spot probes (`canI`) miss a broad built-in role
that happens to lack the probed verbs (binding `view` grants far more than "list pods"); a
whole-set comparison does not. Pair it with `canI` checks for the rights that must be present."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from breakfix.checks.can_i import RBAC, Subject, identity
from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import live
from breakfix.checks.models import Model
from breakfix.checks.rbac_rights import describe_rule, effective_grants, excess, identity_keys
from breakfix.checks.snapshot import Need, ObjectsNeed, Snapshot

MAX_LISTED = 3
RBAC_KINDS = ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")


class Rule(Model):
    """A PolicyRule of the allowed set, as in a Role."""

    api_groups: list[str] = Field(alias="apiGroups", min_length=1)
    resources: list[str] = Field(min_length=1)
    verbs: list[str] = Field(min_length=1)
    resource_names: list[str] | None = Field(None, alias="resourceNames")

    def as_rule(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class LeastPrivilegeCheck(CheckType):
    key: ClassVar[str] = "leastPrivilege"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads(RBAC, "roles", kind="Role"),
        Reads(RBAC, "rolebindings", kind="RoleBinding"),
        Reads(RBAC, "clusterroles", kind="ClusterRole"),
        Reads(RBAC, "clusterrolebindings", kind="ClusterRoleBinding"),
    )

    subject: Subject
    allowed: list[Rule] = Field(
        default_factory=list, description="What the subject may hold in the lab namespace."
    )
    allowed_cluster_wide: list[Rule] = Field(
        default_factory=list,
        alias="allowedClusterWide",
        description="What it may hold cluster-wide (through a ClusterRoleBinding).",
    )

    def needs(self, namespace: str) -> list[Need]:
        # Fresh: the `canI` checks beside this one ask the authorizer live, and a new binding
        # must not pass them before this check sees it in a lagging cache. Fresh needs come
        # from the watch cache (it holds the RBAC kinds of every namespace) until a grading
        # would solve the lab, and from the API for that one (controller/lab_loop.py): listing
        # every Role of the cluster at each grading was quadratic in the labs.
        return list(self._rbac_needs(namespace))

    def _rbac_needs(self, namespace: str) -> list[ObjectsNeed]:
        keys = identity_keys(*identity(self.subject, namespace))
        return [
            ObjectsNeed(RBAC, kind, "", fresh=True, subjects=keys if "Binding" in kind else ())
            for kind in RBAC_KINDS
        ]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        user, groups = identity(self.subject, namespace)
        roles, bindings, cluster_roles, cluster_bindings = (
            live(snapshot.objects.get(need, [])) for need in self._rbac_needs(namespace)
        )
        grants = effective_grants(user, groups, roles, bindings, cluster_roles, cluster_bindings)
        who = f"{self.subject.kind} {self.subject.name}"
        allowed = [r.as_rule() for r in self.allowed]
        allowed_cluster = [r.as_rule() for r in self.allowed_cluster_wide]
        beyond = excess(grants, namespace, allowed, allowed_cluster)
        if not beyond:
            return Verdict(
                True,
                f"{who} holds nothing beyond the allowed set ({len(grants)} rules checked)",
            )
        listed = "; ".join(g.describe() for g in beyond[:MAX_LISTED])
        more = f" and {len(beyond) - MAX_LISTED} more" if len(beyond) > MAX_LISTED else ""
        wanted = [describe_rule(r) + " in the namespace" for r in allowed] + [
            describe_rule(r) + " cluster-wide" for r in allowed_cluster
        ]
        return Verdict(
            False,
            f"{who} holds more than it needs: {listed}{more}. Least privilege allows only "
            + ("; ".join(wanted) or "nothing"),
        )
