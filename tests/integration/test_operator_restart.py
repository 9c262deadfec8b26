"""Killing the operator at any moment and starting it again ends in one correct lab.

The operator is the chart's Deployment: it is SIGKILLed inside its kind node and restarted by the
kubelet, as after a crash.
"""

from __future__ import annotations

import pytest

from tests.integration.chaos_report import count
from tests.integration.cluster import get_json, kubectl, wait_until
from tests.integration.labs import (
    apply_reference_solution,
    create_lab,
    delete_lab_and_wait_gone,
    lab,
    wait_condition,
)
from tests.integration.node_state import cluster_state, wait_whole
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
    count("operator killed, converged", "during provisioning")
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
    count("operator killed, converged", "after Ready")
    delete_lab_and_wait_gone(name)


@pytest.mark.timeout(600)
def test_killed_after_a_fix_during_a_reset_and_during_a_delete(operator: InClusterOperator) -> None:
    """Each kill lands right after the step starts; after the restart the Lab is where that step
    leads, with nothing done twice, no score lost or raised and nothing left. The pod is killed
    with its container (a new pod takes over the Lease): killing the process again and again
    would only measure the kubelet's growing crash-loop back-off."""
    name = "t-kill-steps"
    namespace = f"lab-{name}"
    create_lab(name, "crashloop-bad-command", seed=6)
    wait_condition(name, "Ready", 150)

    # Between a fix and the status write that grades it.
    apply_reference_solution(name)
    operator.crash_pod()
    wait_condition(name, "Solved", 90)
    status = lab(name)["status"]
    assert status["score"] == 100, status["score"]  # no hint taken: nothing lost
    assert status.get("firstSolvedAt"), status
    count("operator killed, converged", "between a fix and its status write")

    # During a reset: the namespace is being deleted when the operator dies.
    kubectl("patch", "lab", name, "--type=merge", "-p", '{"spec":{"reset":1}}')
    wait_until(
        lambda: (
            kubectl("get", "namespace", namespace, "-o", "jsonpath={.metadata.deletionTimestamp}",
                    check=False).stdout
            or lab(name).get("status", {}).get("observedReset") == 1
        ),
        60,
        "the reset to begin",
        interval=0.05,
    )  # fmt: skip
    operator.crash_pod()
    wait_until(lambda: lab(name)["status"].get("observedReset") == 1, 150, "the reset to finish")
    wait_condition(name, "Ready", 150)
    wait_condition(name, "Solved", 30, status="False")
    assert len(get_json("deployments", "-n", namespace)["items"]) == 1
    # A reset clears progress: the first solve belongs to the old provisioning.
    assert not lab(name)["status"].get("firstSolvedAt")
    count("operator killed, converged", "during a reset")

    # During a delete: the finalizer is pending when the operator dies.
    kubectl("delete", "lab", name, "--wait=false")
    operator.crash_pod()
    wait_until(
        lambda: kubectl("get", "lab", name, check=False).returncode != 0, 120, "the Lab gone"
    )
    wait_until(
        lambda: kubectl("get", "namespace", namespace, check=False).returncode != 0,
        120,
        "its namespace gone",
    )
    count("operator killed, converged", "during a delete")


@pytest.mark.timeout(600)
def test_killed_while_a_node_lab_puts_the_node_back(operator: InClusterOperator) -> None:
    """The delete of a node lab reverts the node through its agent (the kubelet started again,
    files put back from the journal); killed in the middle, the next operator finishes it, and
    every node is as it was before the lab."""
    before = cluster_state()
    name = "t-kill-restore"
    create_lab(name, "node-kubelet-stopped", seed=2)
    wait_condition(name, "Ready", 200)
    assert cluster_state() != before, "the lab changed nothing that the state shows"
    kubectl("delete", "lab", name, "--wait=false")
    operator.crash_pod()
    wait_until(
        lambda: kubectl("get", "lab", name, check=False).returncode != 0, 240, "the Lab gone"
    )
    wait_whole(before)
    count("operator killed, converged", "while a node lab is restored")
