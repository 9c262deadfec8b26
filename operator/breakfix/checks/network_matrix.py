"""`networkMatrix`: the whole reachability matrix of the lab's pods, evaluated from the
NetworkPolicies (netpol.py), equals the intended flows. Every pair of lab pods on every listed
port, plus a stand-in for anything outside the namespace (a pod of another namespace and an
address outside the cluster), in both directions: a flow not in `allowed` must be denied, and
every flow in `allowed` must be allowed. Two spot probes (`networkFlow`) miss a policy that also
opens egress anywhere (`egress: [{}]`) or ingress from every namespace; the matrix does not."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import format_selector, labels_match, live, name_of
from breakfix.checks.models import Model
from breakfix.checks.netpol import Endpoint, flow
from breakfix.checks.snapshot import Need, ObjectsNeed, Snapshot

OUTSIDE_NAMESPACE = "breakfix-outside"
# TEST-NET-3: an address that stands for "anywhere outside the cluster's pods".
OUTSIDE_IP = "203.0.113.10"
MAX_LISTED = 3


class MatrixEnd(Model):
    selector: dict[str, str] | None = Field(
        None, description="Lab pods with these labels; {} is every lab pod."
    )
    outside: bool = Field(False, description="Anything outside the lab namespace.")

    @model_validator(mode="after")
    def _one(self) -> MatrixEnd:
        if (self.selector is None) == (not self.outside):
            raise ValueError("give either selector or outside: true")
        return self

    def matches(self, end: Endpoint, outside: Endpoint) -> bool:
        if self.outside:
            return end is outside
        return end is not outside and labels_match(end.pod, self.selector or {})


class Flow(Model):
    from_: MatrixEnd = Field(alias="from")
    to: MatrixEnd
    port: int | None = Field(None, ge=1, le=65535, description="Any listed port when absent.")


class NetworkMatrixCheck(CheckType):
    key: ClassVar[str] = "networkMatrix"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "pods", kind="Pod"),
        Reads("networking.k8s.io/v1", "networkpolicies", kind="NetworkPolicy"),
        Reads("v1", "namespaces", kind="Namespace"),
    )

    ports: list[int] = Field(min_length=1, description="The ports every pair is tried on.")
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    allowed: list[Flow] = Field(default_factory=list, description="Exactly the intended flows.")

    def needs(self, namespace: str) -> list[Need]:
        return [
            ObjectsNeed("v1", "Pod", namespace),
            ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", ""),
            ObjectsNeed("v1", "Namespace", ""),
        ]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        namespaces = {name_of(n): n for n in snapshot.list("v1", "Namespace", "")}
        policies = live(snapshot.list("networking.k8s.io/v1", "NetworkPolicy", ""))
        ns_obj = namespaces.get(
            namespace,
            {"metadata": {"name": namespace, "labels": {"kubernetes.io/metadata.name": namespace}}},
        )
        pods = [Endpoint(p, ns_obj) for p in live(snapshot.list("v1", "Pod", namespace))]
        if not pods:
            return Verdict(False, f"no pods in namespace {namespace}")
        outside = Endpoint(
            {"metadata": {"name": f"(anything outside {namespace})", "labels": {}}},
            {"metadata": {"name": OUTSIDE_NAMESPACE, "labels": {}}},
            ip=OUTSIDE_IP,
        )
        ends = [*pods, outside]
        ports = sorted({*self.ports, *(f.port for f in self.allowed if f.port is not None)})
        opened, closed = [], []
        total = 0
        for src in ends:
            for dst in ends:
                if src is dst:
                    continue
                for port in ports:
                    total += 1
                    want = any(
                        f.from_.matches(src, outside)
                        and f.to.matches(dst, outside)
                        and (f.port is None or f.port == port)
                        for f in self.allowed
                    )
                    got = flow(policies, src, dst, port, self.protocol)
                    if got.allowed and not want:
                        opened.append(got.reason)
                    elif want and not got.allowed:
                        closed.append(got.reason)
        if not opened and not closed:
            return Verdict(
                True, f"exactly the intended flows are allowed ({total} flows evaluated)"
            )
        parts = []
        if opened:
            more = f" and {len(opened) - MAX_LISTED} more" if len(opened) > MAX_LISTED else ""
            parts.append(
                f"{_flows(len(opened))} allowed that should be denied: "
                + "; ".join(opened[:MAX_LISTED])
                + more
            )
        if closed:
            more = f" and {len(closed) - MAX_LISTED} more" if len(closed) > MAX_LISTED else ""
            parts.append(
                f"{_flows(len(closed), 'intended ')} denied: "
                + "; ".join(closed[:MAX_LISTED])
                + more
            )
        intended = ", ".join(_describe(f) for f in self.allowed) or "none"
        return Verdict(False, ". ".join(parts) + f". Intended flows: {intended}")


def _flows(count: int, adjective: str = "") -> str:
    return f"{count} {adjective}flow" + ("" if count == 1 else "s")


def _describe(f: Flow) -> str:
    def end(e: MatrixEnd) -> str:
        if e.outside:
            return "outside"
        return format_selector(e.selector or {}) or "every lab pod"

    return f"{end(f.from_)} -> {end(f.to)}" + (f":{f.port}" if f.port else "")
