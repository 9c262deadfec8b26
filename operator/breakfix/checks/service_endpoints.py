"""`serviceEndpoints`: a Service's own selector gives it at least `min` ready endpoints.

Only EndpointSlices the endpoint-slice controller made from the Service's selector count. Anyone
may write another slice with the `kubernetes.io/service-name` label and kube-proxy routes
through it, but it is a hand-made copy of pod IPs that the control plane never updates: the
Service still selects nothing. With `workload`, the endpoints must also be pods of that
Deployment, StatefulSet or DaemonSet, not a stray pod labelled to match the selector."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import format_selector, labels_match, live, name_of, pod_details
from breakfix.checks.models import Model
from breakfix.checks.snapshot import Need, Obj, ObjectsNeed, Snapshot

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"


class WorkloadRef(Model):
    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = "Deployment"
    name: str


def controller_of(obj: Obj) -> tuple[str, str] | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind")), str(ref.get("name"))
    return None


def owned_by(pod: Obj, workload: WorkloadRef, replica_sets: dict[str, Obj]) -> bool:
    owner = controller_of(pod)
    if owner is None:
        return False
    if workload.kind != "Deployment":
        return owner == (workload.kind, workload.name)
    if owner[0] != "ReplicaSet" or owner[1] not in replica_sets:
        return False
    return controller_of(replica_sets[owner[1]]) == ("Deployment", workload.name)


class ServiceEndpointsCheck(CheckType):
    key: ClassVar[str] = "serviceEndpoints"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "services", kind="Service"),
        Reads("discovery.k8s.io/v1", "endpointslices", kind="EndpointSlice"),
        Reads("v1", "pods", kind="Pod"),
        Reads("apps/v1", "replicasets", kind="ReplicaSet"),
    )

    service: str
    min: int = Field(1, ge=1)
    port: int | str | None = Field(
        None, description="Only count endpoints of this port (number or name)."
    )
    workload: WorkloadRef | None = Field(
        None, description="The endpoints must be pods of this workload."
    )
    namespace: str | None = None

    def needs(self, namespace: str) -> list[Need]:
        ns = self.namespace or namespace
        needs: list[Need] = [
            ObjectsNeed("v1", "Service", ns),
            ObjectsNeed("discovery.k8s.io/v1", "EndpointSlice", ns),
            ObjectsNeed("v1", "Pod", ns),
        ]
        if self.workload is not None and self.workload.kind == "Deployment":
            needs.append(ObjectsNeed("apps/v1", "ReplicaSet", ns))
        return needs

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
        hand_written = [s for s in slices if not labels_match(s, {MANAGED_BY: CONTROLLER})]
        pods_by_name = {name_of(p): p for p in live(snapshot.list("v1", "Pod", ns))}
        replica_sets = {name_of(r): r for r in live(snapshot.list("apps/v1", "ReplicaSet", ns))}
        ready: set[str] = set()
        foreign: set[str] = set()
        for slice_ in slices:
            if slice_ in hand_written:
                continue
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
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue
                addresses = endpoint.get("addresses") or []
                if self.workload is not None:
                    ref = endpoint.get("targetRef") or {}
                    pod = pods_by_name.get(str(ref.get("name")))
                    if ref.get("kind") != "Pod":
                        pod = None
                    if pod is None or not owned_by(pod, self.workload, replica_sets):
                        foreign.add(str(ref.get("name") or ",".join(addresses)))
                        continue
                ready.update(addresses)
        label = f"Service {self.service}"
        if len(ready) >= self.min:
            return Verdict(True, f"{label}: {len(ready)} ready endpoints")
        notes = []
        if hand_written:
            names = ", ".join(sorted(name_of(s) for s in hand_written))
            notes.append(
                f"EndpointSlice {names} was not made by the endpoint-slice controller from the "
                "Service's selector, so it does not count (hand-written endpoints never follow "
                "the pods)"
            )
        if foreign:
            assert self.workload is not None
            notes.append(
                f"endpoint {', '.join(sorted(foreign))} is not a pod of {self.workload.kind} "
                f"{self.workload.name}, so it does not count"
            )
        selector = services[0].get("spec", {}).get("selector") or {}
        if not selector:
            why = "it has no selector"
        else:
            pods = [p for p in pods_by_name.values() if labels_match(p, selector)]
            why = (
                f"selector {format_selector(selector)} matches no pod"
                if not pods
                else f"selector {format_selector(selector)} matches {len(pods)} pods"
                + pod_details(pods, [])
            )
        return Verdict(
            False,
            f"{label}: {len(ready)} ready endpoints, need {self.min}; {why}"
            + "".join(f"; {n}" for n in notes),
        )
