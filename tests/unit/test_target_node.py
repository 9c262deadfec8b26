from breakfix.lab.nodes import CONTROL_PLANE, target_node


def node(name: str, ready: bool = True, control_plane: bool = False, **spec: object) -> dict:
    labels = {CONTROL_PLANE: ""} if control_plane else {}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_a_worker_is_chosen_over_the_control_plane() -> None:
    nodes = [node("a-control-plane", control_plane=True), node("a-worker2"), node("a-worker")]
    assert target_node(nodes) == "a-worker"


def test_the_choice_ignores_taints_so_it_survives_a_restart() -> None:
    tainted = node("a-worker", taints=[{"key": "dedicated", "effect": "NoSchedule"}])
    assert target_node([node("a-worker2"), tainted]) == "a-worker"


def test_single_node_cluster_uses_the_control_plane() -> None:
    assert target_node([node("only", control_plane=True)]) == "only"


def test_no_ready_node_means_none() -> None:
    assert target_node([node("w", ready=False)]) is None
    assert target_node([]) is None
