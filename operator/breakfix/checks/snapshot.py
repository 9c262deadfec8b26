"""What a check needs to read, and the snapshot of cluster state it is evaluated against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from breakfix.checks.models import (
    AbsentCheck,
    CanICheck,
    Check,
    LogsCheck,
    NetworkFlowCheck,
    PodsReadyCheck,
    ResourceCheck,
    ServiceEndpointsCheck,
    WorkloadAvailableCheck,
)

Obj = dict[str, Any]

# Kinds that live outside any namespace; a check on them ignores the lab namespace.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "PriorityClass",
        "IngressClass",
        "CustomResourceDefinition",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "RuntimeClass",
    }
)


def scope(kind: str, namespace: str | None, lab_namespace: str) -> str:
    if kind in CLUSTER_SCOPED_KINDS:
        return ""
    return lab_namespace if namespace is None else namespace


@dataclass(frozen=True)
class ObjectsNeed:
    """Every object of one kind in one namespace ("" for cluster-scoped kinds or all namespaces)."""

    api_version: str
    kind: str
    namespace: str


@dataclass(frozen=True)
class AccessNeed:
    """The attributes of one SubjectAccessReview."""

    user: str
    groups: tuple[str, ...]
    verb: str
    resource: str
    group: str
    subresource: str
    name: str
    namespace: str


@dataclass(frozen=True)
class LogsNeed:
    namespace: str
    selector: tuple[tuple[str, str], ...]
    container: str | None


Need = ObjectsNeed | AccessNeed | LogsNeed


@dataclass
class Snapshot:
    """Cluster state as gathered for one evaluation; `now` is epoch seconds."""

    now: float
    objects: dict[ObjectsNeed, list[Obj]] = field(default_factory=dict)
    access: dict[AccessNeed, bool] = field(default_factory=dict)
    # (namespace, pod, container) -> log text
    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # Kinds the cluster does not serve, or lookups that failed, with the reason.
    errors: dict[Need, str] = field(default_factory=dict)

    def list(self, api_version: str, kind: str, namespace: str) -> list[Obj]:
        return self.objects.get(ObjectsNeed(api_version, kind, namespace), [])


def access_need(check: CanICheck, namespace: str) -> AccessNeed:
    subject = check.subject
    groups: tuple[str, ...] = ()
    if subject.kind == "ServiceAccount":
        sa_namespace = subject.namespace or namespace
        user = f"system:serviceaccount:{sa_namespace}:{subject.name}"
        groups = (
            "system:serviceaccounts",
            f"system:serviceaccounts:{sa_namespace}",
            "system:authenticated",
        )
    elif subject.kind == "Group":
        user, groups = "breakfix:probe", (subject.name, "system:authenticated")
    else:
        user, groups = subject.name, ("system:authenticated",)
    return AccessNeed(
        user=user,
        groups=groups,
        verb=check.verb,
        resource=check.resource,
        group=check.group,
        subresource=check.subresource,
        name=check.name,
        namespace=namespace if check.namespace is None else check.namespace,
    )


def needs(check: Check, namespace: str) -> list[Need]:
    """What must be gathered to evaluate `check` for a lab living in `namespace`."""
    body = check.body
    if isinstance(body, (ResourceCheck, AbsentCheck)):
        return [
            ObjectsNeed(body.api_version, body.kind, scope(body.kind, body.namespace, namespace))
        ]
    if isinstance(body, CanICheck):
        return [access_need(body, namespace)]
    if isinstance(body, PodsReadyCheck):
        return [ObjectsNeed("v1", "Pod", body.namespace or namespace)]
    if isinstance(body, WorkloadAvailableCheck):
        ns = body.namespace or namespace
        return [ObjectsNeed("apps/v1", body.kind, ns), ObjectsNeed("v1", "Pod", ns)]
    if isinstance(body, ServiceEndpointsCheck):
        ns = body.namespace or namespace
        return [
            ObjectsNeed("v1", "Service", ns),
            ObjectsNeed("discovery.k8s.io/v1", "EndpointSlice", ns),
            ObjectsNeed("v1", "Pod", ns),
        ]
    if isinstance(body, LogsCheck):
        ns = body.namespace or namespace
        return [
            ObjectsNeed("v1", "Pod", ns),
            LogsNeed(ns, tuple(sorted(body.selector.items())), body.container),
        ]
    if isinstance(body, NetworkFlowCheck):
        spaces = {body.from_.namespace or namespace, body.to.namespace or namespace}
        return [
            *(ObjectsNeed("v1", "Pod", ns) for ns in sorted(spaces)),
            # Policies of any namespace may matter, and namespace labels feed selectors.
            ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", ""),
            ObjectsNeed("v1", "Namespace", ""),
        ]
    raise TypeError(f"unknown check body {type(body).__name__}")
