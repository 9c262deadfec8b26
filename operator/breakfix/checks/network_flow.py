"""`networkFlow`: would NetworkPolicies allow TCP/UDP traffic between the selected pods?
Evaluated from the policies' semantics (netpol.py), so it grades the same with or without an
enforcing network plugin."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import format_selector, labels_match, live, name_of
from breakfix.checks.models import Model
from breakfix.checks.netpol import Endpoint, flow
from breakfix.checks.snapshot import Need, ObjectsNeed, Snapshot


class FlowEnd(Model):
    selector: dict[str, str]
    namespace: str | None = None


class NetworkFlowCheck(CheckType):
    key: ClassVar[str] = "networkFlow"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "pods", kind="Pod"),
        Reads("networking.k8s.io/v1", "networkpolicies", kind="NetworkPolicy"),
        Reads("v1", "namespaces", kind="Namespace"),
    )

    from_: FlowEnd = Field(alias="from")
    to: FlowEnd
    port: int = Field(ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    allowed: bool = True

    def needs(self, namespace: str) -> list[Need]:
        spaces = {self.from_.namespace or namespace, self.to.namespace or namespace}
        return [
            *(ObjectsNeed("v1", "Pod", ns) for ns in sorted(spaces)),
            # Policies of any namespace may matter, and namespace labels feed selectors.
            ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", ""),
            ObjectsNeed("v1", "Namespace", ""),
        ]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        namespaces = {name_of(n): n for n in snapshot.list("v1", "Namespace", "")}
        policies = live(snapshot.list("networking.k8s.io/v1", "NetworkPolicy", ""))

        def endpoints(end: FlowEnd) -> list[Endpoint]:
            ns = end.namespace or namespace
            ns_obj = namespaces.get(
                ns, {"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}
            )
            return [
                Endpoint(p, ns_obj)
                for p in live(snapshot.list("v1", "Pod", ns))
                if labels_match(p, end.selector)
            ]

        sources, dests = endpoints(self.from_), endpoints(self.to)
        if not sources or not dests:
            missing = self.from_ if not sources else self.to
            return Verdict(False, f"no pods with labels {format_selector(missing.selector)}")
        verdicts = [flow(policies, s, d, self.port, self.protocol) for s in sources for d in dests]
        wrong = [v for v in verdicts if v.allowed != self.allowed]
        if not wrong:
            return Verdict(True, verdicts[0].reason)
        return Verdict(
            False,
            wrong[0].reason
            + (" (it should be allowed)" if self.allowed else " (it should be denied)"),
        )
