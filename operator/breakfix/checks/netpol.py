"""NetworkPolicy semantics, evaluated from the objects: would this flow be allowed?

Used to grade NetworkPolicy labs on clusters whose network plugin does not enforce policies (the
local cluster's bridge plugin does not), with the rules of networking.k8s.io/v1:
- a pod selected by no policy of a direction is open in that direction;
- a pod selected by some policy of a direction accepts only what one of those policies' rules
  allows (rules are additive; an absent `from`/`to` matches every peer, absent `ports` every port);
- a flow needs both the source's egress and the destination's ingress to allow it.
ipBlock peers are not matched against pod IPs (labs use selectors), only against stand-ins for
traffic outside the cluster's pods: the one `networkMatrix` adds, and a `networkFlow` to an
`address`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _labels(obj: Obj) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def _types(policy: Obj) -> set[str]:
    spec = policy.get("spec", {})
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {"Ingress"} | ({"Egress"} if "egress" in spec else set())


@dataclass(frozen=True)
class Endpoint:
    pod: Obj
    namespace: Obj
    # Matched by ipBlock peers; only set for the stand-in of "anything outside" (pods' IPs
    # are not matched against ipBlocks, as labs use selectors).
    ip: str | None = None

    @property
    def name(self) -> str:
        return str(self.pod.get("metadata", {}).get("name", "?"))

    @property
    def namespace_name(self) -> str:
        return str(self.namespace.get("metadata", {}).get("name", ""))


def _ip_block_matches(block: Obj, ip: str | None) -> bool:
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
        if address not in ipaddress.ip_network(str(block.get("cidr")), strict=False):
            return False
        return not any(
            address in ipaddress.ip_network(str(e), strict=False) for e in block.get("except") or []
        )
    except ValueError:
        return False


def _peer_matches(peer: Obj, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return _ip_block_matches(peer["ipBlock"], other.ip)
    pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
    if ns_sel is not None:
        if not selector_matches(ns_sel, _labels(other.namespace)):
            return False
    elif other.namespace_name != policy_namespace:
        return False
    return pod_sel is None or selector_matches(pod_sel, _labels(other.pod))


def _container_port(pod: Obj, name: str) -> int | None:
    for container in pod.get("spec", {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name:
                return int(port["containerPort"])
    return None


def _port_matches(rule_ports: list[Obj] | None, port: int, protocol: str, dest: Endpoint) -> bool:
    if not rule_ports:
        return True
    for entry in rule_ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        value = entry.get("port")
        if value is None:
            return True
        number = _container_port(dest.pod, value) if isinstance(value, str) else int(value)
        if number is None:
            continue
        end = int(entry.get("endPort", number))
        if number <= port <= end:
            return True
    return False


def _direction(
    policies: list[Obj],
    subject: Endpoint,
    other: Endpoint,
    direction: str,
    port: int,
    protocol: str,
    dest: Endpoint,
) -> tuple[bool, list[str]]:
    """(allowed, names of the policies that restrict `subject` in `direction`)."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if p.get("metadata", {}).get("namespace") == subject.namespace_name
        and direction in _types(p)
        and selector_matches(p.get("spec", {}).get("podSelector", {}), _labels(subject.pod))
    ]
    if not selecting:
        return True, []
    for policy in selecting:
        ns = policy["metadata"]["namespace"]
        for rule in policy.get("spec", {}).get(key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(peer, ns, other) for peer in peers)
            if peer_ok and _port_matches(rule.get("ports"), port, protocol, dest):
                return True, [policy["metadata"]["name"]]
    return False, [p["metadata"]["name"] for p in selecting]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str


def flow(
    policies: list[Obj], source: Endpoint, dest: Endpoint, port: int, protocol: str = "TCP"
) -> Verdict:
    egress_ok, egress_by = _direction(policies, source, dest, "Egress", port, protocol, dest)
    ingress_ok, ingress_by = _direction(policies, dest, source, "Ingress", port, protocol, dest)
    what = f"{source.name} -> {dest.name}:{port}/{protocol}"
    if not egress_ok:
        return Verdict(
            False,
            f"{what} denied: egress of {source.name} is restricted by "
            f"{', '.join(egress_by)} and no rule allows it",
        )
    if not ingress_ok:
        return Verdict(
            False,
            f"{what} denied: ingress to {dest.name} is restricted by "
            f"{', '.join(ingress_by)} and no rule allows it",
        )
    via = sorted(set(egress_by + ingress_by))
    return Verdict(
        True, f"{what} allowed" + (f" by {', '.join(via)}" if via else " (no policy restricts it)")
    )
