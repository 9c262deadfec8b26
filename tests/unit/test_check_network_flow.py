import pytest

from breakfix.checks.check import Check, evaluate
from breakfix.checks.snapshot import ObjectsNeed, Snapshot

NS = "lab-t"


def flow_check(allowed: bool = True) -> Check:
    return Check.model_validate(
        {
            "name": "f",
            "description": "d",
            "networkFlow": {
                "from": {"selector": {"app": "web"}},
                "to": {"selector": {"app": "db"}},
                "port": 5432,
                "allowed": allowed,
            },
        }
    )


def pod(name: str, app: str) -> dict:
    return {"metadata": {"name": name, "namespace": NS, "labels": {"app": app}}}


def snapshot(*policies: dict) -> Snapshot:
    snap = Snapshot(now=0.0)
    snap.objects[ObjectsNeed("v1", "Pod", NS)] = [pod("web-1", "web"), pod("db-0", "db")]
    snap.objects[ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", "")] = list(policies)
    snap.objects[ObjectsNeed("v1", "Namespace", "")] = []
    return snap


DENY_ALL = {
    "metadata": {"name": "deny-all", "namespace": NS},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
}


def test_needs_pods_policies_and_namespaces() -> None:
    assert flow_check().needs(NS) == [
        ObjectsNeed("v1", "Pod", NS),
        ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", ""),
        ObjectsNeed("v1", "Namespace", ""),
    ]


def test_open_flow() -> None:
    result = evaluate(flow_check(), snapshot(), NS)
    assert result.passed
    assert result.message == "web-1 -> db-0:5432/TCP allowed (no policy restricts it)"


def test_denied_flow_names_the_policy() -> None:
    result = evaluate(flow_check(), snapshot(DENY_ALL), NS)
    assert not result.passed
    assert "restricted by deny-all" in result.message
    assert result.message.endswith("(it should be allowed)")
    assert evaluate(flow_check(allowed=False), snapshot(DENY_ALL), NS).passed


def test_missing_pods() -> None:
    snap = snapshot()
    snap.objects[ObjectsNeed("v1", "Pod", NS)] = [pod("web-1", "web")]
    assert evaluate(flow_check(), snap, NS).message == "no pods with labels app=db"


# An address outside the cluster as the destination (`to: {address: ...}`).

METADATA = "169.254.169.254"


def address_check(address: str = METADATA, port: int = 80, allowed: bool = True) -> Check:
    return Check.model_validate(
        {
            "name": "f",
            "description": "d",
            "networkFlow": {
                "from": {"selector": {"app": "web"}},
                "to": {"address": address},
                "port": port,
                "allowed": allowed,
            },
        }
    )


def web_egress(*rules: dict) -> dict:
    return {
        "metadata": {"name": "web-egress", "namespace": NS},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Egress"],
            "egress": list(rules),
        },
    }


DENY_EGRESS = {
    "metadata": {"name": "default-deny", "namespace": NS},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}
INTERNET_BUT_METADATA = {
    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [f"{METADATA}/32"]}}],
    "ports": [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 443}],
}


def test_address_needs_only_the_source_pods() -> None:
    assert address_check().needs(NS) == [
        ObjectsNeed("v1", "Pod", NS),
        ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", ""),
        ObjectsNeed("v1", "Namespace", ""),
    ]


def test_address_open_without_policies_and_named_in_the_message() -> None:
    result = evaluate(address_check(), snapshot(), NS)
    assert result.passed
    assert result.message == f"web-1 -> {METADATA}:80/TCP allowed (no policy restricts it)"


def test_default_deny_egress_denies_the_address() -> None:
    result = evaluate(address_check(), snapshot(DENY_EGRESS), NS)
    assert not result.passed
    assert result.message == (
        f"web-1 -> {METADATA}:80/TCP denied: egress of web-1 is restricted by default-deny "
        "and no rule allows it (it should be allowed)"
    )
    assert evaluate(address_check(allowed=False), snapshot(DENY_EGRESS), NS).passed


def test_allow_all_egress_allows_the_address() -> None:
    snap = snapshot(DENY_EGRESS, web_egress({}))
    for port in (80, 443, 8080):
        result = evaluate(address_check(port=port), snap, NS)
        assert result.passed, result.message
        assert result.message == f"web-1 -> {METADATA}:{port}/TCP allowed by web-egress"
    assert not evaluate(address_check(allowed=False), snap, NS).passed


def test_ip_block_except_denies_the_metadata_address_only() -> None:
    snap = snapshot(DENY_EGRESS, web_egress(INTERNET_BUT_METADATA))
    for port in (80, 443):
        result = evaluate(address_check(port=port, allowed=False), snap, NS)
        assert result.passed, result.message
        assert f"-> {METADATA}:{port}/TCP denied" in result.message
        assert evaluate(address_check("203.0.113.10", port=port), snap, NS).passed
    # Outside the rule's ports, nothing is allowed anyway.
    assert not evaluate(address_check("203.0.113.10", port=22), snap, NS).passed


def test_except_of_another_address_leaves_the_metadata_address_open() -> None:
    for wrong in ("169.254.170.2/32", "169.254.0.0/24"):
        rule = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [wrong]}}]}
        result = evaluate(address_check(allowed=False), snapshot(DENY_EGRESS, web_egress(rule)), NS)
        assert not result.passed
        assert result.message.endswith("allowed by web-egress (it should be denied)")
    whole_range = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}]}
    snap = snapshot(DENY_EGRESS, web_egress(whole_range))
    assert evaluate(address_check(allowed=False), snap, NS).passed


def test_a_rule_with_only_ports_admits_the_address_on_those_ports() -> None:
    rule = {"ports": [{"protocol": "TCP", "port": 443}]}
    snap = snapshot(DENY_EGRESS, web_egress(rule))
    assert evaluate(address_check(port=443), snap, NS).passed
    assert evaluate(address_check(port=80, allowed=False), snap, NS).passed
    # A named port belongs to a pod's container; an address has none.
    named = snapshot(DENY_EGRESS, web_egress({"ports": [{"port": "http"}]}))
    assert evaluate(address_check(port=80, allowed=False), named, NS).passed


def test_pod_and_namespace_selector_peers_never_admit_the_address() -> None:
    peers = [
        {"namespaceSelector": {}},
        {"namespaceSelector": {}, "podSelector": {}},
        {"podSelector": {}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}},
    ]
    for peer in peers:
        snap = snapshot(DENY_EGRESS, web_egress({"to": [peer]}))
        result = evaluate(address_check(allowed=False), snap, NS)
        assert result.passed, (peer, result.message)
        assert "restricted by default-deny, web-egress" in result.message
    # Beside such a peer in the same rule, an ipBlock still admits it.
    both = {"to": [{"namespaceSelector": {}}, {"ipBlock": {"cidr": "169.254.0.0/16"}}]}
    assert evaluate(address_check(), snapshot(DENY_EGRESS, web_egress(both)), NS).passed


def test_pod_flows_are_graded_as_before_beside_address_rules() -> None:
    # The address view of a policy does not leak into flows between pods.
    rule = {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]}
    snap = snapshot(DENY_EGRESS, web_egress(rule))
    assert not evaluate(address_check(allowed=True), snap, NS).passed
    verdict = evaluate(flow_check(), snap, NS)
    assert "egress of web-1" not in verdict.message  # egress allowed; db's ingress denies


def test_ipv6_address() -> None:
    v6 = {"to": [{"ipBlock": {"cidr": "::/0", "except": ["fd00:ec2::254/128"]}}]}
    snap = snapshot(DENY_EGRESS, web_egress(v6))
    result = evaluate(address_check("FD00:EC2::254", allowed=False), snap, NS)
    assert result.passed
    assert "web-1 -> [fd00:ec2::254]:80/TCP denied" in result.message
    assert evaluate(address_check("2001:db8::1"), snap, NS).passed
    # An IPv4 block does not hold an IPv6 address, nor the other way round.
    v4 = snapshot(DENY_EGRESS, web_egress({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}))
    assert evaluate(address_check("2001:db8::1", allowed=False), v4, NS).passed
    assert evaluate(address_check(METADATA, allowed=False), snap, NS).passed


def test_missing_source_pods_with_an_address() -> None:
    snap = snapshot()
    snap.objects[ObjectsNeed("v1", "Pod", NS)] = [pod("db-0", "db")]
    assert evaluate(address_check(), snap, NS).message == "no pods with labels app=web"


@pytest.mark.parametrize(
    ("to", "error"),
    [
        ({"selector": {"app": "db"}, "address": METADATA}, "exactly one of selector"),
        ({}, "exactly one of selector"),
        ({"namespace": "kube-system"}, "exactly one of selector"),
        ({"address": "169.254.169.254/32"}, "is not an IPv4 or IPv6 address"),
        ({"address": "metadata.google.internal"}, "is not an IPv4 or IPv6 address"),
        ({"address": "169.254.169.256"}, "is not an IPv4 or IPv6 address"),
        ({"address": "fe80::1%eth0"}, "has a zone"),
        ({"address": METADATA, "namespace": "kube-system"}, "an address lies in no namespace"),
    ],
)
def test_destination_validation(to: dict, error: str) -> None:
    body = {"from": {"selector": {"app": "web"}}, "to": to, "port": 80}
    with pytest.raises(ValueError, match=error):
        Check.model_validate({"name": "f", "description": "d", "networkFlow": body})


def test_address_only_as_destination() -> None:
    body = {"from": {"address": METADATA}, "to": {"selector": {"app": "db"}}, "port": 80}
    with pytest.raises(ValueError, match=r"address is allowed only in `to`"):
        Check.model_validate({"name": "f", "description": "d", "networkFlow": body})
