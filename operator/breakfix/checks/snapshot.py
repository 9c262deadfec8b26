"""What a check needs to read, and the snapshot of cluster state it is evaluated against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

# Kinds that live outside any namespace; a check on them ignores the lab namespace.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "NodeMetrics",
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
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
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
    # Read from the API server, not the operator's watch cache: for checks whose verdict must
    # agree with answers the API gives live (an access review sees a new binding at once; the
    # cache a moment later, and a check judging from it would pass in between).
    fresh: bool = False
    # Only these objects, each read by name: for kinds the operator may get but never lists
    # (Secrets, kube/watched.py GET_ONLY).
    names: tuple[str, ...] = ()
    # Bindings only: those naming one of these subjects (rbac_rights.identity_keys). A whole-set
    # RBAC check judged every binding of the cluster at each grading, 8,000 at 2,000 labs; the
    # cache keeps bindings by subject as well.
    subjects: tuple[str, ...] = ()


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
class AdmissionNeed:
    """A server-side dry-run create (`dryRun=All`) of one object: what admission answers."""

    namespace: str
    # The manifest as sorted JSON: hashable, and equal for equal objects.
    body: str


@dataclass(frozen=True)
class PodsAdmissionNeed:
    """A dry-run create of each live pod matching `selector`, submitted again as it runs."""

    namespace: str
    selector: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LogsNeed:
    namespace: str
    selector: tuple[tuple[str, str], ...]
    container: str | None


@dataclass(frozen=True)
class EvictionNeed:
    """A server-side dry-run eviction (`dryRun=All`) of every live pod matching `selector`:
    the API server answers as `kubectl drain` would be answered, budgets included, and changes
    nothing."""

    namespace: str
    selector: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class NodeFileNeed:
    """A configuration file on a node, read by the node agent there."""

    node: str
    path: str


@dataclass(frozen=True)
class AuditNeed:
    """A real GET of `get` with a kubeconfig on a node, and its event in the audit log there,
    by the node agent."""

    node: str
    kubeconfig: str
    get: str
    log: str


@dataclass(frozen=True)
class EtcdSnapshotNeed:
    """What an etcd snapshot file on a node is, by the node agent there (never its content)."""

    node: str
    path: str
    markers: tuple[str, ...]


@dataclass(frozen=True)
class PatchAsNeed:
    """A dry-run merge patch of an API path with a kubeconfig on a node, by the node agent."""

    node: str
    kubeconfig: str
    path: str
    # The patch as sorted JSON: hashable, and equal for equal patches.
    body: str


@dataclass(frozen=True)
class CredentialNeed:
    """A real request to the API server with a kubeconfig on a node, by the node agent there."""

    node: str
    kubeconfig: str
    # An API path to GET with it as well ("" for none): its HTTP status is in the answer.
    get: str = ""


@dataclass(frozen=True)
class ProbeNeed:
    """A GET of a loopback URL on a node (a component's health endpoint), by the node agent."""

    node: str
    url: str


@dataclass(frozen=True)
class RequestNeed:
    """A real request to a Service's cluster IP from a short-lived client pod in `namespace`:
    a TCP connect, or an HTTP GET of `path`. The pod goes through kube-proxy and the
    namespace's NetworkPolicies exactly as the lab's own clients do."""

    namespace: str
    service: str
    port: int | str | None
    path: str | None
    # Sent this many times, each a new connection that kube-proxy balances on its own: every
    # one must succeed, so one good endpoint among bad ones does not pass by luck.
    attempts: int = 3
    contains: str | None = None
    # Sent with this Host header: an ingress controller routes by it.
    host: str | None = None
    # The client pod's namespace, when not the Service's: a request through an ingress
    # controller's Service comes from the lab.
    client_namespace: str | None = None
    # Lists (apiVersion, kind, namespace) whose objects the answer also depends on: the
    # Ingresses and backends an ingress controller routes by.
    depends_on: tuple[tuple[str, str, str], ...] = ()
    # With a certificate (PEM): HTTPS to `host`, made by a node agent (agent/https.py) and
    # accepted only over a connection verified against this certificate. No lab pod can
    # verify one: busybox's TLS client does not.
    trust: str | None = None

    @property
    def client(self) -> str:
        return self.client_namespace or self.namespace


Need = (
    ObjectsNeed
    | AccessNeed
    | AdmissionNeed
    | PodsAdmissionNeed
    | LogsNeed
    | EvictionNeed
    | NodeFileNeed
    | AuditNeed
    | EtcdSnapshotNeed
    | PatchAsNeed
    | CredentialNeed
    | ProbeNeed
    | RequestNeed
)


@dataclass(frozen=True)
class EvictionAnswer:
    allowed: bool
    # The API server's words when it refuses (a budget, several budgets, ...).
    message: str = ""


@dataclass(frozen=True)
class AdmissionAnswer:
    allowed: bool
    # The API server's words when it refuses (the policy, the Pod Security level, ...).
    message: str = ""


@dataclass(frozen=True)
class RequestAnswer:
    """What the client pod saw: `ok` when it connected (and, for HTTP, got a 2xx answer),
    `output` the response body or the client's error, `target` the address it dialled."""

    ok: bool
    output: str
    target: str
    # Epoch seconds of the request: an answer is reused while nothing it depends on changed.
    at: float = 0.0
    # "n/of": the request the answer is from, when several were sent.
    attempt: str = ""
    # Seconds from `at` for which the answer stands, if nothing it depends on changes.
    fresh_for: float = 60.0


@dataclass
class Snapshot:
    """Cluster state as gathered for one evaluation; `now` is epoch seconds."""

    now: float
    # When a watch event last woke the lab (epoch seconds): what it changed may not have reached
    # the API server's own caches yet (see CheckType.settle_seconds).
    woken_at: float | None = None
    objects: dict[ObjectsNeed, list[Obj]] = field(default_factory=dict)
    access: dict[AccessNeed, bool] = field(default_factory=dict)
    admissions: dict[AdmissionNeed, AdmissionAnswer] = field(default_factory=dict)
    # (namespace, pod) -> admission's answer to that pod submitted again
    pod_admissions: dict[tuple[str, str], AdmissionAnswer] = field(default_factory=dict)
    # (namespace, pod, container) -> log text
    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # (namespace, pod) -> the answer to a dry-run eviction
    evictions: dict[tuple[str, str], EvictionAnswer] = field(default_factory=dict)
    # (node, path) -> the file's text, None if there is no such file
    files: dict[tuple[str, str], str | None] = field(default_factory=dict)
    # (node, url) -> (HTTP status or 0, body or error)
    probes: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    # (node, kubeconfig) -> the agent's answer: status, user, groups, error
    identities: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    audits: dict[AuditNeed, dict[str, Any]] = field(default_factory=dict)
    etcd_snapshots: dict[EtcdSnapshotNeed, dict[str, Any]] = field(default_factory=dict)
    patches: dict[PatchAsNeed, dict[str, Any]] = field(default_factory=dict)
    requests: dict[RequestNeed, RequestAnswer] = field(default_factory=dict)
    # Kinds the cluster does not serve, or lookups that failed, with the reason.
    errors: dict[Need, str] = field(default_factory=dict)

    def list(self, api_version: str, kind: str, namespace: str, fresh: bool = False) -> list[Obj]:
        return self.objects.get(ObjectsNeed(api_version, kind, namespace, fresh), [])
