"""Effective RBAC rights of a subject, computed from the RBAC objects, and compared as a whole
with an allowed set: least privilege graded on everything the subject holds, not on a few probes.

The Kubernetes API offers no rules review for another subject (SelfSubjectRulesReview is for
the caller and "may be incomplete"), so the rights are computed the way the RBAC authorizer
does: every RoleBinding and ClusterRoleBinding whose subjects include the user or one of its
groups, and the rules of the Role or ClusterRole it refers to (aggregated ClusterRoles carry
their aggregated rules). The cluster's own default bindings (label
`kubernetes.io/bootstrapping: rbac-defaults`, e.g. `system:basic-user` for every authenticated
user) are the baseline every subject has and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"


@dataclass(frozen=True)
class Grant:
    """One rule the subject holds, where it holds it, and through which objects."""

    rule: Obj
    namespace: str  # "" = cluster-wide (every namespace and cluster-scoped resources)
    via: str  # e.g. "RoleBinding x -> ClusterRole admin"

    def describe(self) -> str:
        return f"{describe_rule(self.rule)} {where(self.namespace)} (via {self.via})"


def where(namespace: str) -> str:
    return f"in namespace {namespace}" if namespace else "cluster-wide"


def describe_rule(rule: Obj) -> str:
    if rule.get("nonResourceURLs"):
        return f"{','.join(rule.get('verbs') or [])} on URLs {','.join(rule['nonResourceURLs'])}"
    verbs = ",".join(rule.get("verbs") or []) or "(no verb)"
    groups = rule.get("apiGroups") or []
    resources = [
        resource + ("" if group == "" else f".{group}")
        for resource in rule.get("resources") or []
        for group in groups or [""]
    ]
    names = rule.get("resourceNames") or []
    text = f"{verbs} {','.join(resources) or '(no resource)'}"
    return text + (f" named {','.join(names)}" if names else "")


def subject_key(subject: Obj) -> str | None:
    """Who a binding's subject is, as `user:<name>` or `group:<name>` (a ServiceAccount is the
    user the API server authenticates it as)."""
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":
        return f"user:system:serviceaccount:{subject.get('namespace', '')}:{name}"
    if kind == "User":
        return f"user:{name}"
    if kind == "Group":
        return f"group:{name}"
    return None


def binding_keys(binding: Obj) -> set[str]:
    """The subject keys of every subject a binding names."""
    return {k for s in binding.get("subjects") or [] if (k := subject_key(s)) is not None}


def identity_keys(user: str, groups: tuple[str, ...]) -> tuple[str, ...]:
    """The subject keys a binding must name to grant `user` (with `groups`) anything."""
    return (f"user:{user}", *(f"group:{g}" for g in groups))


def subject_matches(subject: Obj, user: str, groups: tuple[str, ...]) -> bool:
    return subject_key(subject) in identity_keys(user, groups)


def _is_default(obj: Obj) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return labels.get(BOOTSTRAP_LABEL) == "rbac-defaults"


def effective_grants(
    user: str,
    groups: tuple[str, ...],
    roles: list[Obj],
    role_bindings: list[Obj],
    cluster_roles: list[Obj],
    cluster_role_bindings: list[Obj],
) -> list[Grant]:
    """Every rule `user` (with `groups`) holds through non-default bindings."""
    cluster_by_name = {o["metadata"]["name"]: o for o in cluster_roles}
    roles_by_key = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in roles}
    grants: list[Grant] = []
    tagged = [(b, False) for b in role_bindings] + [(b, True) for b in cluster_role_bindings]
    for binding, cluster_wide in tagged:
        if _is_default(binding) or binding.get("metadata", {}).get("deletionTimestamp"):
            continue
        if not any(subject_matches(s, user, groups) for s in binding.get("subjects") or []):
            continue
        meta = binding["metadata"]
        namespace = "" if cluster_wide else str(meta.get("namespace", ""))
        ref = binding.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole":
            role = cluster_by_name.get(ref.get("name", ""))
        else:
            role = roles_by_key.get((namespace, ref.get("name", "")))
        if role is None:
            continue
        kind = "RoleBinding" if namespace else "ClusterRoleBinding"
        via = f"{kind} {meta['name']} -> {ref.get('kind')} {ref.get('name')}"
        for rule in role.get("rules") or []:
            grants.append(Grant(dict(rule), namespace, via))
    return grants


def _covers_values(allowed: list[str], actual: list[str]) -> bool:
    """Does the allowed list cover every value of the actual list? `*` covers anything; an
    actual `*` is covered only by an allowed `*`."""
    if "*" in allowed:
        return True
    return bool(actual) and all(v != "*" and v in allowed for v in actual)


def rule_within(rule: Obj, allowed: list[Obj]) -> bool:
    """Is every (group, resource, verb[, name]) the rule grants granted by some allowed rule?"""
    if rule.get("nonResourceURLs"):
        return any(
            _covers_values(a.get("nonResourceURLs") or [], rule["nonResourceURLs"])
            and _covers_values(a.get("verbs") or [], rule.get("verbs") or [])
            for a in allowed
        )
    groups = rule.get("apiGroups") or []
    resources = rule.get("resources") or []
    verbs = rule.get("verbs") or []
    if not groups or not resources or not verbs:
        return True  # grants nothing
    names = rule.get("resourceNames") or []
    for group in groups:
        for resource in resources:
            for verb in verbs:
                if not any(
                    _covers_values(a.get("apiGroups") or [], [group])
                    and _covers_values(a.get("resources") or [], [resource])
                    and _covers_values(a.get("verbs") or [], [verb])
                    and (
                        not a.get("resourceNames")
                        or (names and _covers_values(a["resourceNames"], names))
                    )
                    for a in allowed
                ):
                    return False
    return True


def excess(
    grants: list[Grant], lab_namespace: str, allowed: list[Obj], allowed_cluster: list[Obj]
) -> list[Grant]:
    """The grants beyond the allowed set: in the lab namespace, `allowed` or `allowed_cluster`
    covers them; cluster-wide only `allowed_cluster`; in any other namespace only
    `allowed_cluster` (a cluster-wide right holds there too)."""
    out = []
    for grant in grants:
        scope = (
            [*allowed, *allowed_cluster] if grant.namespace == lab_namespace else allowed_cluster
        )
        if not rule_within(grant.rule, scope):
            out.append(grant)
    return out
