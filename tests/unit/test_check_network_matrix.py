"""networkMatrix: the whole reachability matrix against exactly the intended flows."""

from typing import Any

from breakfix.checks.check import Check, evaluate
from breakfix.checks.snapshot import ObjectsNeed, Snapshot

NS = "lab-t"


def matrix_check(**extra: Any) -> Check:
    body = {
        "ports": [8080, 22],
        "allowed": [
            {"from": {"selector": {"app": "web"}}, "to": {"selector": {"app": "api"}}, "port": 8080}
        ],
        **extra,
    }
    return Check.model_validate({"name": "m", "description": "d", "networkMatrix": body})


def pod(name: str, app: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
        "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]},
    }


def policy(name: str, selector: dict, **spec: Any) -> dict:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {"podSelector": {"matchLabels": selector} if selector else {}, **spec},
    }


DENY = policy("default-deny", {}, policyTypes=["Ingress", "Egress"])
EGRESS = policy(
    "web-egress",
    {"app": "web"},
    policyTypes=["Egress"],
    egress=[{"to": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 8080}]}],
)
INGRESS = policy(
    "api-ingress",
    {"app": "api"},
    policyTypes=["Ingress"],
    ingress=[
        {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": "http"}]}
    ],
)


def snapshot(*policies: dict) -> Snapshot:
    snap = Snapshot(now=0.0)
    snap.objects[ObjectsNeed("v1", "Pod", NS)] = [
        pod("web-1", "web"),
        pod("api-1", "api"),
        pod("debug", "debug"),
    ]
    snap.objects[ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", "")] = list(policies)
    snap.objects[ObjectsNeed("v1", "Namespace", "")] = []
    return snap


def test_exact_flows_pass() -> None:
    result = evaluate(matrix_check(), snapshot(DENY, EGRESS, INGRESS), NS)
    assert result.passed, result.message
    # 3 pods + outside: 4*3 ordered pairs, 2 ports.
    assert result.message == "exactly the intended flows are allowed (24 flows evaluated)"


def test_egress_anywhere_is_caught() -> None:
    anywhere = policy("web-egress", {"app": "web"}, policyTypes=["Egress"], egress=[{}])
    result = evaluate(matrix_check(), snapshot(DENY, anywhere, INGRESS), NS)
    assert not result.passed
    assert result.message.startswith(
        "2 flows allowed that should be denied: web-1 -> (anything outside lab-t):22/TCP "
        "allowed by web-egress"
    )
    assert result.message.endswith("Intended flows: app=web -> app=api:8080")


def test_egress_to_an_ip_block_anywhere_is_caught() -> None:
    block = policy(
        "web-egress",
        {"app": "web"},
        policyTypes=["Egress"],
        egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}, *EGRESS["spec"]["egress"]],
    )
    assert (
        "(anything outside lab-t)"
        in evaluate(matrix_check(), snapshot(DENY, block, INGRESS), NS).message
    )
    narrow = policy(
        "web-egress",
        {"app": "web"},
        policyTypes=["Egress"],
        egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}, *EGRESS["spec"]["egress"]],
    )
    assert evaluate(matrix_check(), snapshot(DENY, narrow, INGRESS), NS).passed


def test_ingress_from_every_namespace_is_caught() -> None:
    wide = policy(
        "api-ingress",
        {"app": "api"},
        policyTypes=["Ingress"],
        ingress=[{"from": [{"namespaceSelector": {}}], "ports": [{"port": 8080}]}],
    )
    message = evaluate(matrix_check(), snapshot(DENY, EGRESS, wide), NS).message
    assert "(anything outside lab-t) -> api-1:8080/TCP allowed by api-ingress" in message


def test_deleting_default_deny_opens_everything() -> None:
    result = evaluate(matrix_check(), snapshot(EGRESS, INGRESS), NS)
    assert not result.passed and result.message.startswith("14 flows allowed that should be denied")


def test_missing_flow_is_reported_and_outside_flows_can_be_intended() -> None:
    result = evaluate(matrix_check(), snapshot(DENY, EGRESS), NS)
    assert result.message.startswith(
        "1 intended flow denied: web-1 -> api-1:8080/TCP denied: ingress to api-1"
    )
    open_egress = matrix_check(
        allowed=[
            {"from": {"selector": {}}, "to": {"outside": True}},
            {
                "from": {"selector": {"app": "web"}},
                "to": {"selector": {"app": "api"}},
                "port": 8080,
            },
        ]
    )
    ingress_only = policy("deny-ingress", {}, policyTypes=["Ingress"])
    assert evaluate(open_egress, snapshot(ingress_only, INGRESS), NS).passed
