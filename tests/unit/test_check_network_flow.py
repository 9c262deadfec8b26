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
