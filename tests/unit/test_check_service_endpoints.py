"""serviceEndpoints: only the Service's own selector counts, through the controller's slices."""

from typing import Any

from breakfix.checks.check import Check, evaluate
from breakfix.checks.snapshot import ObjectsNeed, Snapshot

NS = "lab-t"
MANAGED = {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}


def se_check(**extra: Any) -> Check:
    return Check.model_validate(
        {"name": "s", "description": "d", "serviceEndpoints": {"service": "api", **extra}}
    )


def slice_(name: str, pod: str, ip: str, labels: dict[str, str]) -> dict:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": "api", **labels}},
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": pod},
            }
        ],
    }


def owned(name: str, kind: str, owner: str, app: str = "api") -> dict:
    return {
        "metadata": {
            "name": name,
            "labels": {"app": app},
            "ownerReferences": [{"kind": kind, "name": owner, "controller": True}],
        }
    }


def snapshot(selector: dict[str, str], slices: list[dict], pods: list[dict]) -> Snapshot:
    snap = Snapshot(now=0.0)
    svc = {"metadata": {"name": "api"}, "spec": {"selector": selector, "ports": [{"port": 80}]}}
    snap.objects[ObjectsNeed("v1", "Service", NS)] = [svc]
    snap.objects[ObjectsNeed("discovery.k8s.io/v1", "EndpointSlice", NS)] = slices
    snap.objects[ObjectsNeed("v1", "Pod", NS)] = pods
    snap.objects[ObjectsNeed("apps/v1", "ReplicaSet", NS)] = [owned("api-7d", "Deployment", "api")]
    return snap


def test_a_hand_written_slice_does_not_count() -> None:
    pods = [owned("api-7d-x", "ReplicaSet", "api-7d")]
    manual = slice_("api-manual", "api-7d-x", "10.244.1.5", {})
    result = evaluate(se_check(), snapshot({"tier": "typo"}, [manual], pods), NS)
    assert not result.passed
    assert result.message == (
        "Service api: 0 ready endpoints, need 1; selector tier=typo matches no pod; "
        "EndpointSlice api-manual was not made by the endpoint-slice controller from the "
        "Service's selector, so it does not count (hand-written endpoints never follow the pods)"
    )
    managed = slice_("api-abc", "api-7d-x", "10.244.1.5", MANAGED)
    assert evaluate(se_check(), snapshot({"app": "api"}, [manual, managed], pods), NS).passed


def test_mirrored_endpoints_of_a_selectorless_service_do_not_count() -> None:
    mirrored = slice_(
        "api-m",
        "api-7d-x",
        "10.244.1.5",
        {"endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"},
    )
    result = evaluate(se_check(), snapshot({}, [mirrored], []), NS)
    assert not result.passed and "it has no selector" in result.message


def test_workload_endpoints_must_be_its_pods() -> None:
    stray = owned("stray", "ReplicaSet", "other-rs")
    bare = {"metadata": {"name": "bare", "labels": {"app": "api"}}}
    slices = [
        slice_("api-a", "stray", "10.244.1.6", MANAGED),
        slice_("api-b", "bare", "10.244.1.7", MANAGED),
    ]
    check = se_check(workload={"name": "api"})
    assert ObjectsNeed("apps/v1", "ReplicaSet", NS) in check.needs(NS)
    result = evaluate(check, snapshot({"app": "api"}, slices, [stray, bare]), NS)
    assert not result.passed
    assert result.message.endswith(
        "endpoint bare, stray is not a pod of Deployment api, so it does not count"
    )
    ours = owned("api-7d-x", "ReplicaSet", "api-7d")
    slices.append(slice_("api-c", "api-7d-x", "10.244.1.5", MANAGED))
    result = evaluate(check, snapshot({"app": "api"}, slices, [stray, bare, ours]), NS)
    assert result.passed and result.message == "Service api: 1 ready endpoints"
