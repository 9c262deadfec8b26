"""The Helm chart against the real API server: rendered, accepted, and strict about values."""

from __future__ import annotations

import yaml

from tests.integration import chart
from tests.integration.cluster import kubectl


def test_rendered_chart_is_accepted_by_the_api_server(installed: None) -> None:
    objs = chart.rendered("--include-crds")
    kinds = sorted({o["kind"] for o in objs})
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "Deployment",
        "Scenario",
        "Service",
        "ServiceAccount",
    ]
    chart.delete_namespace()
    kubectl("create", "namespace", chart.NAMESPACE)
    try:
        proc = kubectl(
            "apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(objs), timeout=180
        )
    finally:
        chart.delete_namespace()
    applied = [line for line in proc.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == len(objs), proc.stdout


def test_operator_pod_is_locked_down() -> None:
    [deployment] = [o for o in chart.rendered() if o["kind"] == "Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "memory" in container["resources"]["limits"]


def test_unknown_values_are_rejected_with_the_key_named() -> None:
    proc = chart.template("--set", "replicaCount=2")
    assert proc.returncode != 0
    assert "replicaCount" in proc.stderr
    proc = chart.template("--set", "image.pullPolicy=Sometimes")
    assert proc.returncode != 0
    assert "pullPolicy" in proc.stderr


def test_scenarios_can_be_left_out() -> None:
    kinds = {o["kind"] for o in chart.rendered("--set", "scenarios.install=false")}
    assert "Scenario" not in kinds
