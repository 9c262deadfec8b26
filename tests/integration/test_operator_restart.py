"""Killing the operator at any moment and starting it again ends in one correct lab.

The operator is the chart's Deployment: it is SIGKILLed inside its kind node and restarted by the
kubelet, as after a crash.
"""

from __future__ import annotations

import pytest

from tests.integration.cluster import get_json, kubectl, wait_until
from tests.integration.labs import (
    apply_reference_solution,
    create_lab,
    delete_lab_and_wait_gone,
    lab,
    wait_condition,
)
from tests.integration.operator import NAMESPACE, InClusterOperator

pytestmark = pytest.mark.chaos


def test_kill_during_provisioning_then_restart(operator: InClusterOperator) -> None:
    name = "t-restart"
    namespace = f"lab-{name}"
    operator.stop()
    create_lab(name, "crashloop-bad-command", seed=5)
    # Start without waiting for readiness: Kopf begins provisioning before its probe passes.
    kubectl("-n", NAMESPACE, "scale", "deployment/breakfix", "--replicas=1")
    # Kill the moment the namespace exists: the manifests are being applied.
    wait_until(
        lambda: kubectl("get", "namespace", namespace, check=False).returncode == 0,
        120,
        "the lab namespace",
        interval=0.05,
    )
    operator.kill()
    operator.wait_healthy()
    wait_condition(name, "Ready", 150)
    deployments = get_json("deployments", "-n", namespace)["items"]
    assert len(deployments) == 1
    uid = deployments[0]["metadata"]["uid"]
    started_at = lab(name)["status"]["startedAt"]

    # A restart after Ready must neither provision again nor restart the clock.
    operator.kill()
    operator.wait_healthy()
    apply_reference_solution(name)
    wait_condition(name, "Solved", 60)
    [deployment] = get_json("deployments", "-n", namespace)["items"]
    assert deployment["metadata"]["uid"] == uid
    assert lab(name)["status"]["startedAt"] == started_at
    assert len(get_json("namespaces", "-l", f"breakfix.dev/lab={name}")["items"]) == 1
    delete_lab_and_wait_gone(name)
