"""`networkFlow`: would NetworkPolicies allow TCP/UDP traffic between the selected pods, or from
them to an address outside the cluster? Evaluated from the policies' semantics (netpol.py), so it
grades the same with or without an enforcing network plugin."""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import format_selector, labels_match, live, name_of
from breakfix.checks.models import Model
from breakfix.checks.netpol import Endpoint, Obj, flow
from breakfix.checks.snapshot import Need, ObjectsNeed, Snapshot

# The namespace of the stand-in for an address outside the cluster: not a valid namespace name,
# so no policy lives there (its ingress is open) and no lab namespace is it.
ADDRESS_NAMESPACE = "(outside the cluster)"


class FlowEnd(Model):
    selector: dict[str, str] = Field(description="Pods with these labels.")
    namespace: str | None = Field(None, description="Their namespace; the lab's when absent.")

    @model_validator(mode="before")
    @classmethod
    def _no_address(cls, data: Any) -> Any:
        if isinstance(data, dict) and "address" in data:
            raise ValueError(
                "address is allowed only in `to` (egress from lab pods to an address outside "
                "the cluster); `from` names pods by selector"
            )
        return data


class FlowDestination(Model):
    selector: dict[str, str] | None = Field(None, description="Pods with these labels.")
    namespace: str | None = Field(
        None, description="The pods' namespace; the lab's when absent (not with address)."
    )
    address: str | None = Field(
        None,
        description="An IPv4 or IPv6 address outside the cluster (169.254.169.254): only "
        "ipBlock egress peers can admit it, never pod or namespace selectors.",
    )

    @field_validator("address")
    @classmethod
    def _ip_literal(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(
                f"address {value!r} is not an IPv4 or IPv6 address (one address, no prefix length)"
            ) from None
        if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
            raise ValueError(f"address {value!r} has a zone; an ipBlock cannot match one")
        return str(address)

    @model_validator(mode="after")
    def _selector_or_address(self) -> FlowDestination:
        if (self.selector is None) == (self.address is None):
            raise ValueError(
                "`to` needs exactly one of selector (pods) or address (an IP address outside "
                "the cluster)"
            )
        if self.address is not None and self.namespace is not None:
            raise ValueError("namespace goes with selector; an address lies in no namespace")
        return self


class NetworkFlowCheck(CheckType):
    key: ClassVar[str] = "networkFlow"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "pods", kind="Pod"),
        Reads("networking.k8s.io/v1", "networkpolicies", kind="NetworkPolicy"),
        Reads("v1", "namespaces", kind="Namespace"),
    )

    from_: FlowEnd = Field(alias="from")
    to: FlowDestination
    port: int = Field(ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    allowed: bool = True

    def needs(self, namespace: str) -> list[Need]:
        spaces = {self.from_.namespace or namespace}
        if self.to.address is None:
            spaces.add(self.to.namespace or namespace)
        return [
            *(ObjectsNeed("v1", "Pod", ns) for ns in sorted(spaces)),
            # Policies of any namespace may matter, and namespace labels feed selectors.
            ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", ""),
            ObjectsNeed("v1", "Namespace", ""),
        ]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        namespaces = {name_of(n): n for n in snapshot.list("v1", "Namespace", "")}
        policies = live(snapshot.list("networking.k8s.io/v1", "NetworkPolicy", ""))

        def endpoints(selector: dict[str, str], space: str | None) -> list[Endpoint]:
            ns = space or namespace
            ns_obj = namespaces.get(
                ns, {"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}
            )
            return [
                Endpoint(p, ns_obj)
                for p in live(snapshot.list("v1", "Pod", ns))
                if labels_match(p, selector)
            ]

        sources = endpoints(self.from_.selector, self.from_.namespace)
        if not sources:
            return Verdict(False, f"no pods with labels {format_selector(self.from_.selector)}")
        if self.to.address is not None:
            dests = [_address_endpoint(self.to.address)]
            policies = [_egress_to_addresses(p) for p in policies]
        else:
            selector = self.to.selector or {}
            dests = endpoints(selector, self.to.namespace)
            if not dests:
                return Verdict(False, f"no pods with labels {format_selector(selector)}")
        verdicts = [flow(policies, s, d, self.port, self.protocol) for s in sources for d in dests]
        wrong = [v for v in verdicts if v.allowed != self.allowed]
        if not wrong:
            return Verdict(True, verdicts[0].reason)
        return Verdict(
            False,
            wrong[0].reason
            + (" (it should be allowed)" if self.allowed else " (it should be denied)"),
        )


def _address_endpoint(address: str) -> Endpoint:
    """The stand-in for an address outside the cluster: no labels, in no lab namespace, named
    by the address (bracketed when IPv6, so `[2001:db8::1]:443` reads as address and port)."""
    name = f"[{address}]" if ":" in address else address
    return Endpoint(
        {"metadata": {"name": name, "labels": {}}},
        {"metadata": {"name": ADDRESS_NAMESPACE, "labels": {}}},
        ip=address,
    )


def _egress_to_addresses(policy: Obj) -> Obj:
    """The policy as it applies to traffic to an address outside the cluster: pod and namespace
    selector peers select pods, never an address, so only ipBlock peers are kept. A rule without
    peers (no `to`, or an empty one) admits every destination and stays; a rule whose peers all
    select pods admits no address and goes (left with no peers, it would admit everything)."""
    spec = policy.get("spec") or {}
    if not spec.get("egress"):
        return policy
    rules = []
    for rule in spec["egress"]:
        peers = rule.get("to")
        if not peers:
            rules.append(rule)
            continue
        blocks = [peer for peer in peers if "ipBlock" in peer]
        if blocks:
            rules.append({**rule, "to": blocks})
    return {**policy, "spec": {**spec, "egress": rules}}
