"""Which node a node lab changes, who holds the cluster, and the learner's shell (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from breakfix.lab.nodes import CONTROL_PLANE, holders, shell_command, target_node
from breakfix.scenario.models import ScenarioSpec


def node(name: str, ready: bool = True, plane: bool = False, **extra: Any) -> dict[str, Any]:
    labels = {CONTROL_PLANE: ""} if plane else {}
    return {
        "metadata": {"name": name, "labels": labels, **extra},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


NODES = [node("kind-control-plane", plane=True), node("kind-worker"), node("kind-worker2")]


def test_a_worker_lab_avoids_the_operators_node() -> None:
    assert target_node(NODES, "worker", avoid="kind-worker") == "kind-worker2"
    assert target_node(NODES, "worker", avoid="kind-worker2") == "kind-worker"
    assert target_node(NODES, "worker") == "kind-worker"


def test_with_one_worker_it_is_that_worker_and_a_control_plane_lab_takes_the_plane() -> None:
    assert target_node(NODES[:2], "worker", avoid="kind-worker") == "kind-worker"
    assert target_node(NODES, "control-plane") == "kind-control-plane"
    assert target_node([node("w", ready=False)], "worker") is None


def test_holders_across_the_cluster() -> None:
    held = node("kind-worker2", annotations={"breakfix.dev/held-by": "lab-a"})
    assert holders([*NODES[:2], held]) == {"lab-a": "kind-worker2"}


def test_the_shell_follows_the_provider() -> None:
    kind_node = {"spec": {"providerID": "kind://docker/breakfix/breakfix-worker"}}
    assert shell_command(kind_node, "breakfix-worker") == "docker exec -it breakfix-worker bash"
    podman = {"spec": {"providerID": "kind://podman/k/k-worker"}}
    assert shell_command(podman, "k-worker").startswith("podman exec -it k-worker")
    assert shell_command({}, "n1").startswith("kubectl debug node/n1 -it")


BASE: dict[str, Any] = {
    "title": "A node lab",
    "task": "Fix the node, please, now.",
    "difficulty": "easy",
    "category": "nodes",
    "manifests": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}],
    "symptoms": [{"name": "s", "description": "d", "nodeReady": {"name": "n"}}],
    "checks": [{"name": "c", "description": "d", "nodeReady": {"name": "n"}}],
    "solution": {"explanation": "e", "steps": [{"onNode": "systemctl start kubelet"}]},
}


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"scope": "Node"}, "lab changes a node"),
        (
            {
                "exclusive": True,
                "nodeChanges": {"services": [{"name": "kubelet", "action": "stop"}]},
            },
            "is a Node or ControlPlane lab",
        ),
        (
            {
                "exclusive": True,
                "scope": "ControlPlane",
                "nodeChanges": {"services": [{"name": "kubelet", "action": "stop"}]},
            },
            "changes the control-plane node",
        ),
        (
            {"scope": "Node", "nodeChanges": {"services": [{"name": "kubelet", "action": "stop"}]}},
            "must be exclusive",
        ),
    ],
)
def test_scope_and_node_changes_must_agree(extra: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ScenarioSpec.model_validate({**BASE, **extra})


def test_a_node_lab_is_valid() -> None:
    spec = ScenarioSpec.model_validate(
        {
            **BASE,
            "exclusive": True,
            "scope": "Node",
            "nodeChanges": {"services": [{"name": "kubelet", "action": "stop"}]},
        }
    )
    assert spec.node_changes is not None and spec.node_changes.on_host
