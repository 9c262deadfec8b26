"""The catalog's own guards, rendered from the labs, against the edge values a shortcut uses:
a CPU request of "0", a ResourceQuota re-created with a scope that matches no pod. (Pure: the
objects are hand-built in the shapes the API server returns.)"""

from __future__ import annotations

from typing import Any

from breakfix.checks.check import evaluate
from breakfix.checks.snapshot import ObjectsNeed, Snapshot
from breakfix.scenario.catalog import load_lab
from breakfix.scenario.render import RenderedScenario, render
from tests.paths import LABS


def rendered(lab_id: str) -> RenderedScenario:
    lab = load_lab(LABS / lab_id)
    return render(lab.spec, lab.id, "edge", seed=1)


def verdict(lab: RenderedScenario, check: str, objects: dict[str, list[dict[str, Any]]]) -> bool:
    namespace = lab.context["namespace"]
    [found] = [c for c in lab.checks if c.name == check]
    snapshot = Snapshot(now=0.0)
    for need in found.needs(namespace):
        if isinstance(need, ObjectsNeed):
            snapshot.objects[need] = objects.get(need.kind, [])
    return evaluate(found, snapshot, namespace).passed


def deployment(name: str, cpu: str | None) -> dict[str, Any]:
    resources = {"requests": {"cpu": cpu}} if cpu is not None else {}
    container = {"name": "app", "image": "busybox", "resources": resources}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "lab-edge"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


def quota(used_cpu: str, scopes: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"hard": {"requests.cpu": "500m"}}
    if scopes:
        spec["scopes"] = scopes
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "compute", "namespace": "lab-edge"},
        "spec": spec,
        "status": {"hard": {"requests.cpu": "500m"}, "used": {"requests.cpu": used_cpu}},
    }


def test_a_cpu_request_of_zero_is_not_a_request_kept() -> None:
    lab = rendered("quota-blocks-pods")
    app = lab.context["app"]
    assert verdict(lab, "cpu-request-kept", {"Deployment": [deployment(app, "100m")]})
    assert not verdict(lab, "cpu-request-kept", {"Deployment": [deployment(app, "0")]})
    assert not verdict(lab, "cpu-request-kept", {"Deployment": [deployment(app, "0m")]})
    assert not verdict(lab, "cpu-request-kept", {"Deployment": [deployment(app, None)]})


def test_a_quota_scoped_away_from_the_pods_is_not_kept() -> None:
    lab = rendered("quota-blocks-pods")
    assert verdict(lab, "quota-kept", {"ResourceQuota": [quota("200m")]})
    # Re-created with a scope no pod matches: spec.hard is intact, but it counts nothing.
    assert not verdict(lab, "quota-kept", {"ResourceQuota": [quota("0", ["BestEffort"])]})


def test_hpa_lab_rejects_a_zero_request_too() -> None:
    lab = rendered("hpa-missing-requests")
    app = lab.context["app"]
    assert verdict(lab, "cpu-requests-set", {"Deployment": [deployment(app, "50m")]})
    assert not verdict(lab, "cpu-requests-set", {"Deployment": [deployment(app, "0")]})
