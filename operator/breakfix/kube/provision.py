"""Creating and removing a lab's objects: its namespace, its manifests, cluster-scoped extras."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterable
from typing import Any

from breakfix import (
    API_VERSION,
    GROUP,
    LAB_LABEL,
    NAMESPACE_PREFIX,
    PROVISIONED_UIDS,
    SCENARIO_LABEL,
)
from breakfix.kube.client import ApiException, Kube
from breakfix.lab.models import Learner
from breakfix.scenario.template import home_namespace, uid_key

Obj = dict[str, Any]

# Objects others depend on go first: a quota or limit must exist before the pods it governs.
KIND_ORDER = [
    "Namespace",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    # Before the workloads whose creates it is to judge.
    "ValidatingWebhookConfiguration",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "Role",
    "RoleBinding",
    "PersistentVolumeClaim",
    "NetworkPolicy",
    "Service",
    "ReferenceGrant",
    "Gateway",
    "Ingress",
    "HTTPRoute",
]


def apply_order(manifests: list[Obj]) -> list[Obj]:
    def rank(obj: Obj) -> int:
        kind = obj.get("kind", "")
        return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)

    return sorted(manifests, key=rank)


def owner_reference(lab: Obj) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "Lab",
        "name": lab["metadata"]["name"],
        "uid": lab["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def lab_labels(lab: Obj) -> dict[str, str]:
    return {
        LAB_LABEL: lab["metadata"]["name"],
        SCENARIO_LABEL: lab["spec"]["scenario"],
        "app.kubernetes.io/managed-by": "breakfix",
    }


POD_SECURITY = "pod-security.kubernetes.io/"
# A learner is admin of the lab's namespace: without this, a privileged pod that mounts the node's
# root is one `kubectl apply` away. A lab about Pod Security sets its own levels instead.
DEFAULT_POD_SECURITY = {
    f"{POD_SECURITY}enforce": "baseline",
    f"{POD_SECURITY}enforce-version": "latest",
}


def namespace_object(lab: Obj, namespace: str, labels: dict[str, str]) -> Obj:
    policy = {} if any(k.startswith(POD_SECURITY) for k in labels) else DEFAULT_POD_SECURITY
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace,
            "labels": {**policy, **labels, **lab_labels(lab)},
            "ownerReferences": [owner_reference(lab)],
        },
    }


def claimed_by_other(namespace: Obj | None, lab: str) -> str | None:
    """The other Lab a namespace of this name belongs to, if any: a Lab `a-b` and the other
    namespace `b` of a Lab `a` would both be `lab-a-b`."""
    if namespace is None:
        return None
    owner = ((namespace.get("metadata") or {}).get("labels") or {}).get(LAB_LABEL)
    return owner if owner is not None and owner != lab else None


def learner_subject(learner: Learner) -> Obj:
    subject: Obj = {"kind": learner.kind, "name": learner.name}
    if learner.kind == "ServiceAccount":
        subject["namespace"] = learner.namespace
    else:
        subject["apiGroup"] = "rbac.authorization.k8s.io"
    return subject


# What the built-in `admin` ClusterRole leaves read-only in a namespace, and a lab's fix may
# change: its quota and its default limits (raising a LimitRange is a valid fix of some labs).
LEARNER_LIMITS_ROLE = "breakfix-learner-limits"


def learner_namespace_access(learner: Learner, namespace: str) -> list[Obj]:
    """Namespace admin for the learner (RBAC labs need Roles and RoleBindings, which `edit`
    does not grant), and write on the namespace's ResourceQuotas and LimitRanges; every grant
    is namespaced, so nothing outside the lab is reachable."""
    subject = learner_subject(learner)
    rbac = "rbac.authorization.k8s.io"
    return [
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "breakfix-learner", "namespace": namespace},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "admin"},
            "subjects": [subject],
        },
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "Role",
            "metadata": {"name": LEARNER_LIMITS_ROLE, "namespace": namespace},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["resourcequotas", "limitranges"],
                    "verbs": ["create", "update", "patch", "delete"],
                }
            ],
        },
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": LEARNER_LIMITS_ROLE, "namespace": namespace},
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": LEARNER_LIMITS_ROLE},
            "subjects": [subject],
        },
    ]


def learner_cluster_access(learner: Learner, lab: Obj, rules: list[Obj] | None = None) -> list[Obj]:
    """Outside the lab's namespace the learner reads their own Lab (its task, hints, progress)
    and the Nodes (where pods run, which is cordoned), and holds the `rules` the scenario's task
    needs (`learnerRights`: uncordon its node, say), and nothing else: no Scenario (it holds
    the hints and the solution), no other Lab, no Secret anywhere else. Owned by the Lab."""
    name = f"breakfix-learner-{lab['metadata']['name']}"
    meta = {
        "name": name,
        "labels": lab_labels(lab),
        "ownerReferences": [owner_reference(lab)],
    }
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": meta,
        "rules": [
            {
                "apiGroups": [GROUP],
                "resources": ["labs"],
                "resourceNames": [lab["metadata"]["name"]],
                "verbs": ["get", "list", "watch"],
            },
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
            *(rules or []),
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [learner_subject(learner)],
    }
    return [role, binding]


async def apply_manifests(
    kube: Kube, lab: Obj, namespace: str, manifests: list[Obj], others: Iterable[str] = ()
) -> list[Obj]:
    """Apply every manifest, in the lab namespace or the other one of `others` it names;
    returns references to the cluster-scoped objects created."""
    cluster_objects = []
    uids: dict[str, str] = {}
    others = list(others)
    for manifest in apply_order(manifests):
        obj = copy.deepcopy(manifest)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("labels", {}).update(lab_labels(lab))
        res = await kube.resource(obj["apiVersion"], obj["kind"])
        if res.namespaced:
            meta["namespace"] = home_namespace(obj, namespace, others)
        else:
            # Cluster-scoped objects die with the Lab too, and are listed in its status.
            meta["ownerReferences"] = [owner_reference(lab)]
            cluster_objects.append(
                {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"]}
            )
        applied = await kube.apply(obj, meta["namespace"] if res.namespaced else None)
        uid = (applied or {}).get("metadata", {}).get("uid")
        if uid:
            uids[uid_key(obj["kind"], meta["name"], meta.get("namespace"), namespace)] = str(uid)
    # What was provisioned, by identity: `identityKept` checks compare with it, so "edit it, do
    # not delete and recreate it" is enforced. Kept on the lab's own namespace, which lives
    # exactly as long as these objects.
    await kube.patch(
        "v1",
        "Namespace",
        namespace,
        {"metadata": {"annotations": {PROVISIONED_UIDS: json.dumps(uids, sort_keys=True)}}},
        "merge",
    )
    return cluster_objects


# Cluster-scoped kinds a learner's fix may create for a lab; labelled breakfix.dev/lab=<lab>,
# they are removed with it like the scenario's own.
LEARNER_CLUSTER_KINDS = [
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("v1", "PersistentVolume"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
]


def lab_namespaces(namespace: str, cluster_objects: list[Obj]) -> list[str]:
    """The lab namespace and the other namespaces it provisioned (listed with its
    cluster-scoped objects)."""
    return [namespace] + [r["name"] for r in cluster_objects if r.get("kind") == "Namespace"]


async def _delete_pods(kube: Kube, namespace: str) -> None:
    try:
        pods = await kube.list_objects("v1", "Pod", namespace)
    except ApiException:
        pods = []
    await asyncio.gather(
        *(kube.delete("v1", "Pod", p["metadata"]["name"], namespace, grace_seconds=0) for p in pods)
    )


async def teardown(kube: Kube, namespace: str, cluster_objects: list[Obj]) -> None:
    """Delete the lab's namespaces and the cluster-scoped objects; pods go at once, without
    grace, so a reset does not wait for containers that ignore SIGTERM."""
    namespaces = lab_namespaces(namespace, cluster_objects)
    await asyncio.gather(*(_delete_pods(kube, ns) for ns in namespaces))
    await kube.delete("v1", "Namespace", namespace)
    for ref in cluster_objects:
        await kube.delete(ref["apiVersion"], ref["kind"], ref["name"])
    lab = namespace.removeprefix(NAMESPACE_PREFIX)
    for api_version, kind in LEARNER_CLUSTER_KINDS:
        for obj in await kube.list_objects(api_version, kind, label_selector=f"{LAB_LABEL}={lab}"):
            await kube.delete(api_version, kind, obj["metadata"]["name"])


async def wait_gone(kube: Kube, namespaces: list[str], timeout: float = 180.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = await asyncio.gather(*(kube.get("v1", "Namespace", ns) for ns in namespaces))
        if all(f is None for f in found):
            return True
        await asyncio.sleep(0.5)
    return False
