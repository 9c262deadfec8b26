"""The API server goes away for 30 s while a lab runs: the operator rides it out (no restart, no
Lab graded on what it could not see) and grades a fix made once the API is back within seconds.

The kube-apiserver static pod is stopped the way an administrator would: its manifest moved out of
/etc/kubernetes/manifests on the control-plane node, then moved back.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from breakfix import LAB_LABEL
from tests.integration.chaos_report import record
from tests.integration.cluster import get_json, kubectl, wait_until
from tests.integration.labs import (
    apply_reference_solution,
    condition,
    create_lab,
    delete_lab_and_wait_gone,
    lab,
    wait_condition,
)
from tests.integration.node_state import _engine
from tests.integration.operator import InClusterOperator

pytestmark = pytest.mark.chaos

MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
ASIDE = "/etc/kubernetes/kube-apiserver.yaml.outage"
OUTAGE_SECONDS = 30
CANARY = "t-outage-canary"
# Fixes graded, at most, to find one during which the way to the API server held.
MEASUREMENTS = 3


def control_plane() -> str:
    [node] = [
        n["metadata"]["name"]
        for n in get_json("nodes")["items"]
        if "node-role.kubernetes.io/control-plane" in n["metadata"].get("labels", {})
    ]
    return str(node)


def on_node(node: str, script: str) -> str:
    return subprocess.run([_engine(), "exec", node, "sh", "-c", script], check=True, timeout=60,
                          capture_output=True, text=True).stdout  # fmt: skip


def apiserver_container(node: str) -> str:
    """The running kube-apiserver container's ID, as the node's runtime knows it ("" if none)."""
    return on_node(node, "crictl ps --name kube-apiserver --state running -q").strip()


def path_to_api(node: str) -> tuple[str, str]:
    """What the operator's way to the API server is: the API server's container, and the
    `kubernetes` Service's EndpointSlice (its address taken away and put back changes it)."""
    slice_ = get_json("endpointslice", "kubernetes", "-n", "default")
    return apiserver_container(node), str(slice_["metadata"]["resourceVersion"])


def answers() -> bool:
    try:
        return kubectl("get", "--raw=/readyz", check=False, timeout=5).returncode == 0
    except subprocess.TimeoutExpired:  # accepted, never answered: a server starting or going
        return False


def answers_steadily(node: str, seconds: float = 25) -> bool:
    """Ready every second for `seconds`, from one and the same container: a kubelet that saw the
    manifest go and come back may process the two out of order and start the API server once
    more after its first answer, resetting whatever was asked of it meanwhile."""
    until = time.monotonic() + seconds
    first = apiserver_container(node)
    while time.monotonic() < until:
        if not answers():
            return False
        time.sleep(1)
    return bool(first) and apiserver_container(node) == first


# Where the operator meets the API server: the `kubernetes` Service, whose endpoint the API
# server takes away when it stops and puts back seconds after it answers again (then kube-proxy
# programs it). Until then no client in the cluster reaches it, however fast it retries.
REACHES_SERVICE = (
    "import os, socket; socket.create_connection("
    "(os.environ['KUBERNETES_SERVICE_HOST'], int(os.environ['KUBERNETES_SERVICE_PORT'])), 1)"
)


def operator_reaches_api(operator: InClusterOperator) -> bool:
    try:
        pod = operator.pod()
    except AssertionError:  # the API server, just back, reset the request: ask again
        return False
    if pod is None:
        return False
    proc = kubectl("-n", pod["metadata"]["namespace"], "exec", pod["metadata"]["name"], "--",
                   "python", "-c", REACHES_SERVICE, check=False, timeout=10)  # fmt: skip
    return proc.returncode == 0


def solved_raw(name: str) -> bool:
    """Whether the Lab is Solved, read by its API path: kubectl's discovery (what `kubectl wait`
    and `get lab` do first) may wait seconds on the aggregated API of metrics-server, which is
    unreachable for a while after the API server restarted."""
    proc = kubectl("get", f"--raw=/apis/breakfix.dev/v1alpha1/labs/{name}", check=False, timeout=5)
    if proc.returncode != 0:
        return False
    conditions = json.loads(proc.stdout).get("status", {}).get("conditions") or []
    return any(c.get("type") == "Solved" and c.get("status") == "True" for c in conditions)


def broken_role(namespace: str) -> dict[str, object]:
    """The lab's Role as provisioned (the one its solution edits), to break the lab again."""
    [role] = get_json("roles", "-n", namespace, "-l", LAB_LABEL)["items"]
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": role["metadata"]["name"], "namespace": namespace},
            "rules": role["rules"]}  # fmt: skip


# The first integration test pays for the session's cluster and operator (187 s in CI, cold) on
# top of its own waits for the control plane and a canary to come back (up to 400 s).
@pytest.mark.timeout(900)
def test_a_fix_after_an_api_outage_is_graded_within_seconds(operator: InClusterOperator) -> None:
    name = "t-outage"
    create_lab(name, "rbac-missing-permission", seed=4)
    wait_condition(name, "Ready", 150)
    namespace = lab(name)["status"]["namespace"]
    broken = broken_role(namespace)
    restarts = operator.restarts()
    node = control_plane()
    try:
        on_node(node, f"mv {MANIFEST} {ASIDE}")
        wait_until(lambda: not answers(), 60, "the API server to stop answering")
        time.sleep(OUTAGE_SECONDS)
    finally:
        on_node(node, f"[ -f {ASIDE} ] && mv {ASIDE} {MANIFEST} || true")
    wait_until(answers, 180, "the API server to answer again", interval=0.2)
    back = time.monotonic()
    wait_until(lambda: answers_steadily(node), 240, "the API server to stay up", interval=0.2)
    # Nothing was graded on what could not be seen.
    assert condition(name, "Solved").get("status") == "False"
    service_gap, changed = 0.0, 0
    for _ in range(MEASUREMENTS):
        wait_until(lambda: operator_reaches_api(operator), 120,
                   "the Service to reach the API again", interval=0.2)  # fmt: skip
        service_gap = service_gap or time.monotonic() - back
        serving = path_to_api(node)
        started = time.monotonic()
        apply_reference_solution(name)
        # The fix is in the API once kubectl returns; how long kubectl itself took (its discovery
        # meets an aggregated API, metrics-server's, that is not reachable again yet) is not the
        # operator's.
        fixed = time.monotonic()
        wait_until(lambda: solved_raw(name), 60, f"lab {name} to be Solved", interval=0.05)
        took = time.monotonic() - fixed
        now = path_to_api(node)
        if now == serving:
            break
        # The kubelet started the API server once more while the fix was being graded (seen on a
        # slow machine after the steady window), or the Service lost its endpoint: the operator
        # waited on its way to the API, not on itself. Break the lab again and measure anew.
        changed += 1
        print(f"\nthe way to the API server changed while the fix was graded in {took:.2f}s "
              f"(container, EndpointSlice version: {serving} -> {now}): again")  # fmt: skip
        wait_until(lambda: answers_steadily(node), 240, "the API server to stay up",
                   interval=0.2)  # fmt: skip
        kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(broken))
        wait_until(lambda: condition(name, "Solved").get("status") == "False", 60,
                   f"lab {name} broken again")  # fmt: skip
    else:
        pytest.fail(f"the way to the API server changed during each of {MEASUREMENTS} fixes")
    print(f"\nfix after a {OUTAGE_SECONDS}s API outage graded in {took:.2f}s after kubectl "
          f"applied it in {fixed - started:.2f}s (the kubernetes Service reached the API again "
          f"{service_gap:.1f}s after it answered)")  # fmt: skip
    record(
        "API server stopped",
        outage_s=OUTAGE_SECONDS,
        service_back_after_s=round(service_gap, 1),
        fix_applied_in_s=round(fixed - started, 2),
        fix_graded_after_s=round(took, 2),
        api_path_changed_while_graded=changed,
    )
    assert took < 5, (
        f"a fix after the outage took {took:.1f}s to be graded; the operator's log:\n"
        + operator.logs()[-6000:]
    )
    # Rode it out: neither the kubelet (a failed probe) nor Kopf restarted the operator.
    assert operator.restarts() == restarts
    operator.wait_healthy()
    delete_lab_and_wait_gone(name)
    # The controller manager and scheduler lost their leases in the outage and restart: the
    # next test starts on a whole control plane.
    kubectl("-n", "kube-system", "wait", "--for=condition=Ready", "pods", "--all", "--timeout=180s",
            timeout=200)  # fmt: skip
    # A Ready controller manager may still wait for the Lease its dead self held: only a new
    # Deployment that gets a running pod shows both it and the scheduler at work again.
    kubectl("create", "namespace", CANARY)
    try:
        kubectl("-n", CANARY, "create", "deployment", "canary", "--image=busybox:1.36",
                "--", "sleep", "3600")  # fmt: skip
        kubectl("-n", CANARY, "wait", "--for=condition=Available", "deployment/canary",
                "--timeout=180s", timeout=200)  # fmt: skip
    finally:
        kubectl("delete", "namespace", CANARY, "--timeout=120s", timeout=150)
