"""leastPrivilege: the subject's whole effective rights against the allowed set."""

from typing import Any

from breakfix.checks.check import Check, evaluate, wake_kinds
from breakfix.checks.rbac_rights import rule_within
from breakfix.checks.snapshot import ObjectsNeed, Snapshot
from breakfix.kube.gather import with_subjects

NS = "lab-t"
SA = {"kind": "ServiceAccount", "name": "dash", "namespace": NS}
PODS_READ = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}


def lp_check(**extra: Any) -> Check:
    return Check.model_validate(
        {
            "name": "lp",
            "description": "d",
            "leastPrivilege": {
                "subject": {"kind": "ServiceAccount", "name": "dash"},
                "allowed": [PODS_READ],
                **extra,
            },
        }
    )


def role(name: str, *rules: dict[str, Any], ns: str = NS) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "rules": list(rules)}


def cluster_role(name: str, *rules: dict[str, Any], **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "rules": list(rules)}


def binding(
    name: str, ref_kind: str, ref: str, subject: dict[str, Any] = SA, ns: str | None = NS
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns is not None:
        meta["namespace"] = ns
    return {
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref},
        "subjects": [subject],
    }


VIEW = cluster_role(
    "view",
    {
        "apiGroups": [""],
        "resources": ["pods", "configmaps", "services"],
        "verbs": ["get", "list", "watch"],
    },
)
BASIC_USER = cluster_role(
    "system:basic-user",
    {
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews"],
        "verbs": ["create"],
    },
    **{"kubernetes.io/bootstrapping": "rbac-defaults"},
)
BASIC_BINDING = {
    **binding(
        "system:basic-user",
        "ClusterRole",
        "system:basic-user",
        {"kind": "Group", "name": "system:authenticated"},
        ns=None,
    ),
}
BASIC_BINDING["metadata"]["labels"] = {"kubernetes.io/bootstrapping": "rbac-defaults"}


def snapshot(
    roles: list[Any] = (),  # type: ignore[assignment]
    bindings: list[Any] = (),  # type: ignore[assignment]
    cluster_roles: list[Any] = (),  # type: ignore[assignment]
    cluster_bindings: list[Any] = (),  # type: ignore[assignment]
) -> Snapshot:
    """What gathering the check's needs reads from a cluster holding these objects: bindings
    only where they name the check's subject (or one of its groups)."""
    listed = {
        "Role": list(roles),
        "RoleBinding": list(bindings),
        "ClusterRole": [VIEW, BASIC_USER, *cluster_roles],
        "ClusterRoleBinding": [BASIC_BINDING, *cluster_bindings],
    }
    needs = [n for n in lp_check().needs(NS) if isinstance(n, ObjectsNeed)]
    return Snapshot(now=0.0, objects={n: with_subjects(listed[n.kind], n) for n in needs})


def test_reads_every_rbac_kind_fresh_and_wakes_on_them() -> None:
    # Fresh from the API, so it never lags behind the live access reviews of canI checks.
    assert all(isinstance(n, ObjectsNeed) and n.fresh for n in lp_check().needs(NS))
    assert len(lp_check().needs(NS)) == 4
    assert wake_kinds([lp_check()], NS) == {
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
    }


def test_exactly_the_allowed_rights_pass_and_defaults_are_ignored() -> None:
    snap = snapshot([role("dash", PODS_READ)], [binding("dash", "Role", "dash")])
    result = evaluate(lp_check(), snap, NS)
    assert result.passed, result.message
    assert result.message == (
        "ServiceAccount dash holds nothing beyond the allowed set (1 rules checked)"
    )


def test_narrower_rights_pass() -> None:
    narrow = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}
    named = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["x"]}
    snap = snapshot([role("dash", narrow, named)], [binding("dash", "Role", "dash")])
    assert evaluate(lp_check(), snap, NS).passed


def test_a_broad_builtin_role_fails_although_probes_would_pass() -> None:
    # `view` lacks secrets and delete: the old probes passed. It still grants configmaps.
    snap = snapshot(bindings=[binding("dash-view", "ClusterRole", "view")])
    result = evaluate(lp_check(), snap, NS)
    assert not result.passed
    assert result.message.startswith(
        "ServiceAccount dash holds more than it needs: get,list,watch pods,configmaps,services "
        "in namespace lab-t (via RoleBinding dash-view -> ClusterRole view)"
    )
    assert result.message.endswith(
        "Least privilege allows only get,list,watch pods in the namespace"
    )


def test_wildcard_verbs_fail() -> None:
    star = {"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}
    snap = snapshot([role("dash", star)], [binding("dash", "Role", "dash")])
    assert "holds more than it needs: * pods" in evaluate(lp_check(), snap, NS).message


def test_same_rights_in_another_namespace_or_cluster_wide_fail() -> None:
    other = snapshot(
        [role("dash", PODS_READ, ns="default")], [binding("d", "Role", "dash", ns="default")]
    )
    assert "in namespace default" in evaluate(lp_check(), other, NS).message
    pods_reader = cluster_role("pods-reader", PODS_READ)
    wide = snapshot(
        cluster_roles=[pods_reader],
        cluster_bindings=[binding("d", "ClusterRole", "pods-reader", ns=None)],
    )
    result = evaluate(lp_check(), wide, NS)
    assert "get,list,watch pods cluster-wide (via ClusterRoleBinding d" in result.message
    allowed_wide = lp_check(allowed=[], allowedClusterWide=[PODS_READ])
    assert evaluate(allowed_wide, wide, NS).passed


def test_group_bindings_count() -> None:
    group = {"kind": "Group", "name": f"system:serviceaccounts:{NS}"}
    snap = snapshot(bindings=[binding("all-sas", "ClusterRole", "view", group)])
    assert not evaluate(lp_check(), snap, NS).passed
    other_sa = {"kind": "ServiceAccount", "name": "other", "namespace": NS}
    snap = snapshot(bindings=[binding("other", "ClusterRole", "view", other_sa)])
    assert evaluate(lp_check(), snap, NS).passed


def test_rule_within_wildcards_and_names() -> None:
    assert not rule_within(
        {"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}, [PODS_READ]
    )
    assert not rule_within({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}, [PODS_READ])
    assert rule_within({"apiGroups": [""], "resources": ["pods"], "verbs": []}, [])
    named = {**PODS_READ, "resourceNames": ["a"]}
    assert not rule_within(PODS_READ, [named])
    assert rule_within({**PODS_READ, "resourceNames": ["a"]}, [named])
    assert not rule_within({"nonResourceURLs": ["/metrics"], "verbs": ["get"]}, [PODS_READ])


def test_only_bindings_naming_the_subject_or_its_groups_are_read() -> None:
    needs = {n.kind: n for n in lp_check().needs(NS) if isinstance(n, ObjectsNeed)}
    keys = set(needs["RoleBinding"].subjects)
    assert f"user:system:serviceaccount:{NS}:dash" in keys
    assert {f"group:system:serviceaccounts:{NS}", "group:system:authenticated"} <= keys
    assert needs["ClusterRoleBinding"].subjects == needs["RoleBinding"].subjects
    assert not needs["Role"].subjects and not needs["ClusterRole"].subjects
    mine, group = binding("mine", "Role", "r"), binding("g", "Role", "r", {"kind": "Group",
        "name": "system:authenticated"})  # fmt: skip
    others = binding("x", "Role", "r", {"kind": "User", "name": "dash"})
    assert with_subjects([mine, group, others], needs["RoleBinding"]) == [mine, group]
