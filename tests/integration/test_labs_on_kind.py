"""Labs proven by what the cluster itself does, on a multi-node kind cluster: real traffic through
a NetworkPolicy lab, and a real drain of a worker in a disruption-budget lab."""

from __future__ import annotations

from tests.integration.cluster import get_json, kubectl, wait_until
from tests.integration.labs import (
    apply_reference_solution,
    create_lab,
    delete_lab_and_wait_gone,
    wait_condition,
)
from tests.integration.operator import InClusterOperator


def _pod_with_container(namespace: str, container: str) -> dict:
    for pod in get_json("pods", "-n", namespace)["items"]:
        names = [c["name"] for c in pod["spec"]["containers"]]
        if container in names and not pod["metadata"].get("deletionTimestamp"):
            return dict(pod)
    raise AssertionError(f"no pod with a {container} container in {namespace}")


def test_networkpolicy_lab_blocks_real_traffic_until_fixed(operator: InClusterOperator) -> None:
    name = "t-netpol-traffic"
    namespace = f"lab-{name}"
    create_lab(name, "netpol-default-deny-blocks-flow", seed=11)
    try:
        wait_condition(name, "Ready", 120)
        server = _pod_with_container(namespace, "server")
        client = _pod_with_container(namespace, "client")
        kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod", "--all", "--timeout=90s")
        port = server["spec"]["containers"][0]["ports"][0]["containerPort"]
        target = f"{_pod_with_container(namespace, 'server')['status']['podIP']} {port}"

        def connects() -> bool:
            request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {target}"
            out = kubectl(
                "exec",
                "-n",
                namespace,
                client["metadata"]["name"],
                "--",
                "sh",
                "-c",
                request,
                check=False,
            )
            return "HTTP/1." in out.stdout

        # Broken: the default-deny policy really drops the flow (this fails if nothing enforces
        # NetworkPolicy on the cluster).
        assert not connects()
        assert not connects()
        apply_reference_solution(name)
        wait_condition(name, "Solved", 60)
        wait_until(connects, 20, f"the client to reach the server at {target}")
    finally:
        delete_lab_and_wait_gone(name)


def _workers() -> list[str]:
    return sorted(
        n["metadata"]["name"]
        for n in get_json("nodes")["items"]
        if "node-role.kubernetes.io/control-plane" not in n["metadata"].get("labels", {})
    )


def test_drain_lab_drains_a_worker_onto_the_other(operator: InClusterOperator) -> None:
    name = "t-drain"
    namespace = f"lab-{name}"
    create_lab(name, "pdb-blocks-drain", seed=3)
    drained = None
    try:
        wait_condition(name, "Ready", 120)
        [deployment] = get_json("deployments", "-n", namespace)["items"]
        app = deployment["metadata"]["name"]
        kubectl("rollout", "status", "-n", namespace, f"deployment/{app}", "--timeout=90s")
        pods = get_json("pods", "-n", namespace, "-l", f"app={app}")["items"]
        drained = pods[0]["spec"]["nodeName"]
        [other] = [w for w in _workers() if w != drained]
        drain = [
            "drain",
            drained,
            f"--pod-selector=app={app}",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
        ]
        # Broken: the budget refuses every eviction, so the drain cannot finish.
        refused = kubectl(*drain, "--timeout=15s", check=False, timeout=60)
        assert refused.returncode != 0
        assert "disruption budget" in refused.stderr, refused.stderr
        kubectl("uncordon", drained)

        apply_reference_solution(name)
        wait_condition(name, "Solved", 60)
        kubectl(*drain, "--timeout=120s", timeout=150)

        def all_moved() -> bool:
            now = get_json("pods", "-n", namespace, "-l", f"app={app}")["items"]
            return len(now) == len(pods) and all(
                p["spec"].get("nodeName") == other
                and any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in p["status"].get("conditions", [])
                )
                for p in now
                if not p["metadata"].get("deletionTimestamp")
            )

        wait_until(all_moved, 90, f"every {app} pod running on {other}")
    finally:
        if drained:
            kubectl("uncordon", drained, check=False)
        delete_lab_and_wait_gone(name)
