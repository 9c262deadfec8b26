from typing import Any

from breakfix.checks.check import Check, evaluate, wake_kinds
from breakfix.checks.snapshot import ObjectsNeed, Snapshot

NS = "lab-t"


def node_check(**extra: Any) -> Check:
    return Check.model_validate(
        {"name": "n", "description": "d", "nodeReady": {"name": "worker-1", **extra}}
    )


def node(ready: str = "True", cordoned: bool = False, **cond: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "worker-1"},
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {"conditions": [{"type": "Ready", "status": ready, **cond}]},
    }


def snapshot(*nodes: dict[str, Any]) -> Snapshot:
    return Snapshot(now=0.0, objects={ObjectsNeed("v1", "Node", ""): list(nodes)})


def test_needs_the_nodes_and_wakes_on_node_changes() -> None:
    assert node_check().needs(NS) == [ObjectsNeed("v1", "Node", "")]
    assert wake_kinds([node_check()], NS) == {"Node"}


def test_ready_and_schedulable() -> None:
    result = evaluate(node_check(), snapshot(node()), NS)
    assert result.passed and result.message == "node worker-1 is Ready and schedulable"


def test_cordoned() -> None:
    result = evaluate(node_check(), snapshot(node(cordoned=True)), NS)
    assert result.message == "node worker-1 is Ready but cordoned (SchedulingDisabled)"
    assert evaluate(node_check(schedulable=False), snapshot(node(cordoned=True)), NS).passed


def test_not_ready_says_why() -> None:
    sick = node("False", reason="KubeletNotReady", message="container runtime is down")
    result = evaluate(node_check(), snapshot(sick), NS)
    assert not result.passed
    assert result.message == (
        "node worker-1 is not Ready (KubeletNotReady: container runtime is down)"
    )


def test_missing_node() -> None:
    assert evaluate(node_check(), snapshot(), NS).message == "no Node named worker-1"
