"""Node and ControlPlane labs never leave the cluster broken: one deleted while the operator is
down, and a second node lab waits for the first. (Each such lab is also deleted while still
broken in the catalog self-test, after its first shortcut, and the nodes are compared with their
state before it.)

"As before" is read off the nodes themselves (tests/integration/node_state.py): static-pod
manifests, the kubelet's config and unit state, files under /etc/kubernetes, CoreDNS's config,
taints, cordons and every Node's Ready state.
"""

from __future__ import annotations

import pytest

from breakfix.scenario.catalog import load_catalog
from tests.integration.cluster import kubectl, wait_until
from tests.integration.labs import (
    condition,
    create_lab,
    lab,
    wait_condition,
)
from tests.integration.node_state import cluster_state, wait_whole
from tests.integration.operator import InClusterOperator
from tests.paths import LABS

NODE_LABS = sorted(f.id for f in load_catalog(LABS) if f.spec.scope != "Namespace")


def test_the_catalog_has_node_and_control_plane_labs() -> None:
    assert {"controlplane-scheduler-bad-kubeconfig", "node-kubelet-stopped"} <= set(NODE_LABS)
    assert len(NODE_LABS) >= 10


@pytest.mark.timeout(600)
def test_one_node_lab_at_a_time_and_a_delete_while_the_operator_is_down(
    operator: InClusterOperator,
) -> None:
    before = cluster_state()
    first, second = "t-holder", "t-waiter"
    # The holder stops a kubelet on the worker the operator does not run on: the operator,
    # restarted below, is scheduled on its own worker. (A lab that breaks the scheduler would
    # leave a restarted operator Pending until the node agent restores the scheduler on its own.)
    create_lab(first, "node-kubelet-stopped", seed=1)
    wait_condition(first, "Ready", 200)
    status = lab(first)["status"]
    assert status["shell"] == f"docker exec -it {status['node']} bash"
    assert status["node"] != operator.pod()["spec"]["nodeName"]
    assert cluster_state() != before, "the lab changed nothing that the state shows"
    create_lab(second, "controlplane-scheduler-bad-kubeconfig", seed=1)
    wait_condition(second, "Ready", 60, status="False")
    waiting = condition(second, "Ready")
    assert waiting["reason"] == "WaitingForExclusiveLab", waiting
    assert first in waiting["message"], waiting
    kubectl("delete", "lab", second, "--wait=true", timeout=120)

    # The operator is down while the learner gives up: the Lab waits on its finalizer, and the
    # operator, once back, puts the control plane back.
    operator.stop()
    kubectl("delete", "lab", first, "--wait=false")
    assert lab(first)["metadata"].get("deletionTimestamp")
    operator.start()
    wait_until(
        lambda: kubectl("get", "lab", first, check=False).returncode != 0,
        180,
        f"lab {first} to be gone",
    )
    wait_whole(before)
