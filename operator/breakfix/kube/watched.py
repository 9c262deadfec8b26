"""The kinds the operator watches and caches: every kind a lab's checks commonly read.

Checks on other kinds still work; they read through the API instead of the cache.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from breakfix import NAMESPACE_PREFIX

# Besides the lab namespaces, the one whose pods and config control-plane labs break.
SYSTEM_NAMESPACE = "kube-system"


def watched_namespace(namespace: str) -> bool:
    return namespace.startswith(NAMESPACE_PREFIX) or namespace == SYSTEM_NAMESPACE


@dataclass(frozen=True)
class WatchedKind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    # Cached in every namespace, not only the labs' and kube-system: a binding made anywhere
    # may grant a lab's subject rights, and a whole-set RBAC check must see it without listing
    # every Role of the cluster from the API at each evaluation (quadratic in the labs).
    all_namespaces: bool = False
    # Has a fence object (the chart's templates/fence.yaml), so its informer can vouch that the
    # cache holds every change made before a moment (kube/informer.py): the kinds a grading
    # must read as they are now.
    fenced: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @functools.cached_property
    def index_id(self) -> str:
        """The handler id, and so the keyword under which Kopf passes the index to handlers.
        Made once: every lab's loop keeps a mapping keyed by these (10,000 copies at 400 labs)."""
        return "cache_" + (self.group.replace(".", "_") + "_" if self.group else "") + self.plural


# Kinds the operator reads only by name (get, never list or watch): caching every Secret of the
# cluster is not worth the permission; a pod that lacks its Secret shows the problem in its own
# status, and a check that must see one reads the Secret it names (ObjectsNeed.names).
GET_ONLY = frozenset({("v1", "Secret")})

# Kinds served without a watch (the metrics API): read through the API at each grading, and a
# check on them is looked at again this often while its lab is graded (metrics-server scrapes
# every 15 s). Kind -> resource, for the RBAC the chart grants (get, list).
POLLED = {
    ("metrics.k8s.io/v1beta1", "PodMetrics"): "pods",
    ("metrics.k8s.io/v1beta1", "NodeMetrics"): "nodes",
}
POLL_SECONDS = 15.0

WATCHED = (
    WatchedKind("", "v1", "pods", "Pod"),
    WatchedKind("", "v1", "services", "Service"),
    WatchedKind("", "v1", "serviceaccounts", "ServiceAccount"),
    WatchedKind("", "v1", "configmaps", "ConfigMap"),
    WatchedKind("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    WatchedKind("", "v1", "resourcequotas", "ResourceQuota"),
    WatchedKind("", "v1", "limitranges", "LimitRange"),
    WatchedKind("", "v1", "namespaces", "Namespace", namespaced=False),
    WatchedKind("", "v1", "nodes", "Node", namespaced=False),
    WatchedKind("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False),
    WatchedKind("apps", "v1", "deployments", "Deployment"),
    WatchedKind("apps", "v1", "replicasets", "ReplicaSet"),
    WatchedKind("apps", "v1", "statefulsets", "StatefulSet"),
    WatchedKind("apps", "v1", "daemonsets", "DaemonSet"),
    WatchedKind("batch", "v1", "jobs", "Job"),
    WatchedKind("batch", "v1", "cronjobs", "CronJob"),
    WatchedKind("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    WatchedKind("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
    WatchedKind("networking.k8s.io", "v1", "ingresses", "Ingress"),
    WatchedKind("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
    # The Gateway API's CRDs: where they are not installed, Kopf watches nothing for them.
    WatchedKind("gateway.networking.k8s.io", "v1", "gateways", "Gateway"),
    WatchedKind("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute"),
    WatchedKind("gateway.networking.k8s.io", "v1", "referencegrants", "ReferenceGrant"),
    WatchedKind("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", fenced=True),
    WatchedKind("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
    WatchedKind(
        "rbac.authorization.k8s.io", "v1", "roles", "Role", all_namespaces=True, fenced=True
    ),
    WatchedKind(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        all_namespaces=True,
        fenced=True,
    ),
    WatchedKind(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        namespaced=False,
        fenced=True,
    ),
    WatchedKind(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
        fenced=True,
    ),
    WatchedKind("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False),
    WatchedKind(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        namespaced=False,
    ),
    WatchedKind(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        namespaced=False,
    ),
    # An admission webhook answers creates as its configuration says (a failure policy, the
    # namespaces it covers): a fix edits the configuration, and nothing else changes.
    WatchedKind(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        namespaced=False,
    ),
)

BY_API_KIND = {(w.api_version, w.kind): w for w in WATCHED}
