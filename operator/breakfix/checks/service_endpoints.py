"""`serviceEndpoints`: a Service has at least `min` ready endpoints in its EndpointSlices."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import format_selector, labels_match, live, name_of, pod_details
from breakfix.checks.snapshot import Need, ObjectsNeed, Snapshot


class ServiceEndpointsCheck(CheckType):
    key: ClassVar[str] = "serviceEndpoints"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "services", kind="Service"),
        Reads("discovery.k8s.io/v1", "endpointslices", kind="EndpointSlice"),
        Reads("v1", "pods", kind="Pod"),
    )

    service: str
    min: int = Field(1, ge=1)
    port: int | str | None = Field(
        None, description="Only count endpoints of this port (number or name)."
    )
    namespace: str | None = None

    def needs(self, namespace: str) -> list[Need]:
        ns = self.namespace or namespace
        return [
            ObjectsNeed("v1", "Service", ns),
            ObjectsNeed("discovery.k8s.io/v1", "EndpointSlice", ns),
            ObjectsNeed("v1", "Pod", ns),
        ]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        ns = self.namespace or namespace
        services = [
            s for s in live(snapshot.list("v1", "Service", ns)) if name_of(s) == self.service
        ]
        if not services:
            return Verdict(False, f"no Service named {self.service} in namespace {ns}")
        slices = [
            s
            for s in snapshot.list("discovery.k8s.io/v1", "EndpointSlice", ns)
            if labels_match(s, {"kubernetes.io/service-name": self.service})
        ]
        ready: set[str] = set()
        for slice_ in slices:
            ports = slice_.get("ports") or []
            if not ports and services[0].get("spec", {}).get("ports"):
                # A named targetPort that no container defines leaves the slice without ports:
                # its endpoints are listed, but serve nothing.
                continue
            if self.port is not None and not any(
                p.get("port") == self.port or p.get("name") == self.port for p in ports
            ):
                continue
            for endpoint in slice_.get("endpoints") or []:
                # The API says an unset `ready` means ready.
                if (endpoint.get("conditions") or {}).get("ready") is not False:
                    ready.update(endpoint.get("addresses") or [])
        label = f"Service {self.service}"
        if len(ready) >= self.min:
            return Verdict(True, f"{label}: {len(ready)} ready endpoints")
        selector = services[0].get("spec", {}).get("selector") or {}
        if not selector:
            why = "it has no selector"
        else:
            pods = [p for p in live(snapshot.list("v1", "Pod", ns)) if labels_match(p, selector)]
            why = (
                f"selector {format_selector(selector)} matches no pod"
                if not pods
                else f"selector {format_selector(selector)} matches {len(pods)} pods"
                + pod_details(pods, [])
            )
        return Verdict(False, f"{label}: {len(ready)} ready endpoints, need {self.min}; {why}")
