"""`ingressRequest`: a real HTTP request through the cluster's ingress controller, as a browser
would send it: to the controller's Service, with the site's name in the Host header, from a
short-lived client pod in the lab namespace (checks/service_request.py runs it). The site may
be published by Ingresses (`api: Ingress`) or by the Gateway API (`api: Gateway`: Gateways and
HTTPRoutes); the controller serves both.

An Ingress or a route that looks right is a proxy for "the site answers": a backend port that
exists on no Service, a class no controller serves, a path type that does not match the URL, a
route attached to no listener, all leave valid objects that route nowhere. The controller's
answer, and what the page says, are the outcome. The answer is asked again when the lab's
routes, Services, EndpointSlices or NetworkPolicies change, or the controller's own Service
does; the controller applies a change a moment after it (its configuration is rebuilt from the
same watch), so a failed answer is asked again soon.

With `scheme: https` the request is HTTPS, with the site's name as SNI, made by a node agent
that trusts only `trust` (the certificate the task hands out): a controller that serves its
default certificate because the Ingress's Secret is missing, of the wrong type or holds another
certificate, or a site left on plain HTTP, is refused as a browser would refuse it."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.service_request import (
    CLIENT_POD_READS,
    find_service,
    judge,
    resolve_target,
)
from breakfix.checks.snapshot import Need, ObjectsNeed, RequestNeed, Snapshot

# The controller `make up` installs (hack/kind/manifests/traefik.yaml).
DEFAULT_CONTROLLER = "traefik/traefik"
HOSTNAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A URL path as sent on the request line: no spaces, quotes or control characters.
URL_PATH = r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$"
GATEWAY_API = "gateway.networking.k8s.io/v1"
# What the controller routes by, for each API: the lab's objects, and cluster-wide ones ("").
ROUTES: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "Ingress": (
        ("networking.k8s.io/v1", "Ingress", True),
        ("networking.k8s.io/v1", "IngressClass", False),
    ),
    "Gateway": (
        (GATEWAY_API, "Gateway", True),
        (GATEWAY_API, "HTTPRoute", True),
        (GATEWAY_API, "ReferenceGrant", True),
    ),
}


class IngressRequestCheck(CheckType):
    key: ClassVar[str] = "ingressRequest"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "services", kind="Service"),
        Reads("discovery.k8s.io/v1", "endpointslices", kind="EndpointSlice"),
        Reads("networking.k8s.io/v1", "networkpolicies", kind="NetworkPolicy"),
        Reads("v1", "nodes", kind="Node"),
        Reads("networking.k8s.io/v1", "ingresses", kind="Ingress"),
        Reads("networking.k8s.io/v1", "ingressclasses", kind="IngressClass"),
        Reads(GATEWAY_API, "gateways", kind="Gateway"),
        Reads(GATEWAY_API, "httproutes", kind="HTTPRoute"),
        Reads(GATEWAY_API, "referencegrants", kind="ReferenceGrant"),
        *CLIENT_POD_READS,
    )

    api: Literal["Ingress", "Gateway"] = Field(
        "Ingress", description="How the site is published: Ingresses, or Gateways and HTTPRoutes."
    )
    host: str = Field(pattern=HOSTNAME, max_length=253, description="The site's name (Host).")
    path: str = Field("/", pattern=URL_PATH, max_length=512, description="The URL path asked.")
    contains: str | None = Field(None, description="The page must contain this text.")
    attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="Requests sent, each on a new connection; every one must be answered "
        "with a 2xx status (and contain `contains`).",
    )
    controller: str = Field(
        DEFAULT_CONTROLLER,
        pattern=r"^[a-z0-9-]+/[a-z0-9-]+$",
        description="The ingress controller's Service, as namespace/name.",
    )
    port: int | str | None = Field(
        None,
        description="The controller Service's port: its first if unset (plain HTTP), "
        "`websecure` with `scheme: https`.",
    )
    scheme: Literal["http", "https"] = Field("http", description="Plain HTTP, or HTTPS.")
    trust: str | None = Field(
        None,
        description="With `scheme: https`: the PEM certificate the site's certificate must be "
        "or chain to (`{{ certificate(host).cert }}`); any other is refused.",
    )
    why: str | None = Field(None, description="Told to the learner when the check fails.")

    @model_validator(mode="after")
    def _https_needs_trust(self) -> IngressRequestCheck:
        if (self.scheme == "https") != (self.trust is not None):
            raise ValueError("trust is required with scheme: https, and only there")
        if self.trust is not None and "-----BEGIN CERTIFICATE-----" not in self.trust:
            raise ValueError("trust must be a PEM certificate")
        return self

    @property
    def _controller(self) -> tuple[str, str]:
        namespace, _, name = self.controller.partition("/")
        return namespace, name

    @property
    def _port(self) -> int | str | None:
        return self.port if self.port is not None or self.scheme == "http" else "websecure"

    def _need(self, namespace: str) -> RequestNeed:
        ctrl_ns, ctrl = self._controller
        return RequestNeed(
            ctrl_ns,
            ctrl,
            self._port,
            self.path,
            self.attempts,
            self.contains,
            host=self.host,
            client_namespace=namespace,
            depends_on=(
                *((v, kind, namespace if ns else "") for v, kind, ns in ROUTES[self.api]),
                ("v1", "Service", namespace),
                ("discovery.k8s.io/v1", "EndpointSlice", namespace),
                ("networking.k8s.io/v1", "NetworkPolicy", namespace),
            ),
            trust=self.trust,
        )

    def needs(self, namespace: str) -> list[Need]:
        ctrl_ns, _ = self._controller
        need = self._need(namespace)
        objects = {
            ObjectsNeed("v1", "Service", ctrl_ns),
            ObjectsNeed("discovery.k8s.io/v1", "EndpointSlice", ctrl_ns),
            ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", ctrl_ns),
            *(ObjectsNeed(*listed) for listed in need.depends_on),
        }
        if self.scheme == "https":
            # The node whose agent makes the request.
            objects.add(ObjectsNeed("v1", "Node", ""))
        return [*sorted(objects, key=str), need]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        ctrl_ns, ctrl = self._controller
        why = f" ({self.why})" if self.why else ""
        service = find_service(snapshot, ctrl_ns, ctrl)
        if service is None:
            return Verdict(
                False,
                f"no ingress controller: no Service {ctrl} in namespace {ctrl_ns} (`make up` "
                "installs Traefik there)",
            )
        target = resolve_target(service, self._port)
        if isinstance(target, str):
            return Verdict(False, f"the ingress controller's Service {self.controller}: {target}")
        client = (
            "from a node, trusting only the site's certificate"
            if self.scheme == "https"
            else f"from a pod in {namespace}"
        )
        what = (
            f"GET {self.scheme}://{self.host}{self.path} through the ingress controller "
            f"({self.controller}) {client}"
        )
        answer = snapshot.requests.get(self._need(namespace))
        return judge(answer, what, True, self.contains, why)
