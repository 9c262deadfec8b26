"""The kind cluster is a real cluster: three nodes, scheduler, kubelet, container runtime, RBAC,
Services, pod routes between nodes, cluster DNS and default storage, as learners' kind has."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.integration.cluster import get_json, kubectl, wait_until

NS = "smoke"

BUSYBOX = "busybox:1.36"
OBJECTS = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: runs, namespace: {NS}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: runs}}}}
  template:
    metadata: {{labels: {{app: runs}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: {BUSYBOX}
        command:
        - sh
        - -c
        - mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {NS}}}
spec:
  selector: {{app: runs}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: crash, namespace: {NS}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {{name: c, image: {BUSYBOX}, command: [sh, -c, "exit 1"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: greedy, namespace: {NS}}}
spec:
  containers:
  - name: c
    image: {BUSYBOX}
    resources: {{requests: {{cpu: "100"}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: noimage, namespace: {NS}}}
spec:
  containers:
  - {{name: c, image: "docker.io/library/busybox:does-not-exist-1", imagePullPolicy: IfNotPresent}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: reader, namespace: {NS}}}
"""


@pytest.fixture(scope="module")
def smoke(cluster: str) -> Iterator[None]:
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", timeout=180)
    kubectl("create", "namespace", NS)
    wait_until(
        lambda: kubectl("get", "sa", "default", "-n", NS, check=False).returncode == 0,
        30,
        "the default ServiceAccount",
    )
    kubectl("apply", "-f", "-", input=OBJECTS)
    yield
    kubectl("delete", "namespace", NS, "--wait=false")


def pod(name: str) -> dict:
    return get_json("pod", name, "-n", NS)


def test_deployment_pods_run(smoke: None) -> None:
    kubectl("rollout", "status", "deployment/runs", "-n", NS, "--timeout=120s", timeout=130)
    pods = get_json("pods", "-n", NS, "-l", "app=runs")["items"]
    assert [p["status"]["phase"] for p in pods] == ["Running", "Running"]


def test_crashing_container_goes_into_crashloopbackoff(smoke: None) -> None:
    def backing_off() -> bool:
        events = get_json(
            "events", "-n", NS, "--field-selector", "involvedObject.name=crash,reason=BackOff"
        )["items"]
        return bool(events)

    def looping() -> bool:
        status = pod("crash")["status"].get("containerStatuses", [{}])[0]
        waiting = status.get("state", {}).get("waiting", {}).get("reason")
        # Between restarts the kubelet may still report the last termination: its BackOff
        # Event says the same thing as a waiting reason of CrashLoopBackOff.
        return status.get("restartCount", 0) >= 2 and (
            waiting == "CrashLoopBackOff" or backing_off()
        )

    wait_until(looping, 120, "restartCount >= 2 in CrashLoopBackOff", interval=1)


def test_impossible_request_stays_pending_with_failedscheduling(smoke: None) -> None:
    def failed_scheduling() -> bool:
        events = get_json(
            "events",
            "-n",
            NS,
            "--field-selector",
            "involvedObject.name=greedy,reason=FailedScheduling",
        )["items"]
        return bool(events) and "Insufficient cpu" in events[0]["message"]

    wait_until(failed_scheduling, 60, "a FailedScheduling event")
    assert pod("greedy")["status"]["phase"] == "Pending"


def test_missing_image_fails_to_pull(smoke: None) -> None:
    def pull_failed() -> bool:
        statuses = pod("noimage")["status"].get("containerStatuses") or [{}]
        reason = statuses[0].get("state", {}).get("waiting", {}).get("reason")
        return reason in ("ErrImagePull", "ImagePullBackOff")

    wait_until(pull_failed, 60, "ErrImagePull or ImagePullBackOff")


def test_rbac_denies_then_allows(smoke: None) -> None:
    who = f"--as=system:serviceaccount:{NS}:reader"
    denied = kubectl("auth", "can-i", "list", "pods", "-n", NS, who, check=False)
    assert denied.stdout.strip() == "no"
    kubectl("create", "role", "pod-reader", "-n", NS, "--verb=list", "--resource=pods")
    kubectl(
        "create",
        "rolebinding",
        "pod-reader",
        "-n",
        NS,
        "--role=pod-reader",
        f"--serviceaccount={NS}:reader",
    )
    allowed = kubectl("auth", "can-i", "list", "pods", "-n", NS, who, check=False)
    assert allowed.stdout.strip() == "yes"


def test_clusterip_service_reachable_from_another_pod(smoke: None) -> None:
    kubectl("rollout", "status", "deployment/runs", "-n", NS, "--timeout=120s", timeout=130)
    ip = get_json("service", "web", "-n", NS)["spec"]["clusterIP"]
    client = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "client", "namespace": NS},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "c",
                    "image": BUSYBOX,
                    "command": [
                        "sh",
                        "-c",
                        f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ip} 80",
                    ],
                }
            ],
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(client))
    wait_until(
        lambda: pod("client")["status"].get("phase") in ("Succeeded", "Failed"),
        60,
        "the client pod to finish",
    )
    logs = kubectl("logs", "client", "-n", NS).stdout
    assert "200 OK" in logs and "hello-from-web" in logs


def nodes() -> list[dict]:
    return list(get_json("nodes")["items"])


def workers() -> list[str]:
    return sorted(
        n["metadata"]["name"]
        for n in nodes()
        if "node-role.kubernetes.io/control-plane" not in n["metadata"].get("labels", {})
    )


def test_one_control_plane_and_two_workers_all_ready(cluster: str) -> None:
    roles = sorted(
        "control-plane"
        if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]
        else "worker"
        for n in nodes()
    )
    assert roles == ["control-plane", "worker", "worker"]
    for n in nodes():
        ready = [c for c in n["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True", n["metadata"]["name"]


def _pinned(name: str, node: str, command: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", command]}],
        },
    }


def test_pods_on_different_workers_reach_each_other_by_ip_and_name(smoke: None) -> None:
    first, second = workers()
    server = "mkdir -p /www && echo across-nodes > /www/index.html && exec httpd -f -p 8080 -h /www"
    kubectl("apply", "-f", "-", input=json.dumps(_pinned("far", second, server)))
    kubectl("apply", "-f", "-", input=json.dumps(_pinned("near", first, "sleep 3600")))
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "far", "namespace": NS},
        "spec": {"selector": {"app": "far"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    kubectl("apply", "-f", "-", input=json.dumps(service))
    kubectl("wait", "-n", NS, "--for=condition=Ready", "pod/far", "pod/near", "--timeout=90s")
    ip = pod("far")["status"]["podIP"]

    def fetch(target: str) -> str:
        request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {target}"
        out = kubectl("exec", "-n", NS, "near", "--", "sh", "-c", request, check=False)
        return out.stdout

    # The first seconds after Ready can still be settling routes: retry, then insist.
    for target in (f"{ip} 8080", f"far.{NS}.svc.cluster.local 80"):
        wait_until(lambda t=target: "across-nodes" in fetch(t), 30, f"a reply from {target}")


def test_default_storage_class_provisions_a_volume(smoke: None) -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": NS},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Mi"}}},
    }
    writer = _pinned("writer", workers()[0], "echo kept > /data/f && cat /data/f && sleep 3600")
    writer["spec"]["containers"][0]["volumeMounts"] = [{"name": "d", "mountPath": "/data"}]
    writer["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]
    del writer["spec"]["nodeName"]
    kubectl("apply", "-f", "-", input=json.dumps(claim))
    kubectl("apply", "-f", "-", input=json.dumps(writer))
    kubectl("wait", "-n", NS, "--for=condition=Ready", "pod/writer", "--timeout=120s")
    assert get_json("pvc", "data", "-n", NS)["status"]["phase"] == "Bound"
    assert kubectl("logs", "-n", NS, "writer").stdout.strip() == "kept"
