"""The operator as users run it: the Helm chart's Deployment in the kind cluster, from its image.

Its logs, metrics and restarts come from that Deployment: killed with SIGKILL inside its node,
restarted by the kubelet, stopped and started by scaling.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from typing import Any

from tests.integration.cluster import get_json, kubectl, wait_until

NAMESPACE = "breakfix-system"
DEPLOYMENT = "breakfix"
SELECTOR = "app.kubernetes.io/name=breakfix"
METRICS = f"/api/v1/namespaces/{NAMESPACE}/services/breakfix-metrics:8080/proxy/"


class InClusterOperator:
    def __init__(self) -> None:
        self.since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def pod(self) -> dict[str, Any] | None:
        pods = [
            p
            for p in get_json("pods", "-n", NAMESPACE, "-l", SELECTOR)["items"]
            if not p["metadata"].get("deletionTimestamp")
        ]
        return pods[0] if pods else None

    def ready(self) -> bool:
        pod = self.pod()
        return bool(
            pod
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in pod["status"].get("conditions", [])
            )
        )

    def wait_healthy(self, timeout: float = 120) -> None:
        # Readiness is Kopf's own /healthz, as the chart's probe declares it.
        wait_until(self.ready, timeout, "the operator pod to be Ready")

    def restarts(self) -> int:
        pod = self.pod()
        assert pod, "no operator pod"
        return sum(s["restartCount"] for s in pod["status"].get("containerStatuses", []))

    def kill(self) -> None:
        """SIGKILL the operator's process inside its kind node, without warning; the kubelet
        restarts the container as it would after a crash."""
        pod = self.pod()
        assert pod, "no operator pod"
        before = self.restarts()
        node = pod["spec"]["nodeName"]
        subprocess.run(
            ["docker", "exec", node, "pkill", "-KILL", "-f", "breakfix.controller"], check=True
        )
        wait_until(lambda: self.restarts() > before, 60, "the kubelet to restart the operator")

    def crash_pod(self) -> None:
        """The operator's pod gone at once, as with its node: deleted with no grace (the kubelet
        SIGKILLs it) and replaced by a new pod, which must wait for the dead one's Lease. Unlike
        `kill`, no crash-loop back-off of the kubelet grows with each kill."""
        pod = self.pod()
        assert pod, "no operator pod"
        name = pod["metadata"]["name"]
        kubectl("-n", NAMESPACE, "delete", "pod", name, "--grace-period=0", "--force")
        wait_until(
            lambda: (p := self.pod()) is not None and p["metadata"]["name"] != name,
            60,
            "a new operator pod",
        )
        self.wait_healthy()

    def scale(self, replicas: int) -> None:
        kubectl("-n", NAMESPACE, "scale", f"deployment/{DEPLOYMENT}", f"--replicas={replicas}")
        if replicas == 0:
            wait_until(
                lambda: not get_json("pods", "-n", NAMESPACE, "-l", SELECTOR)["items"],
                120,
                "the operator pod to be gone",
            )
        else:
            self.wait_healthy()

    def start(self) -> None:
        self.scale(1)

    def stop(self) -> None:
        self.scale(0)

    def logs(self) -> str:
        pod = self.pod()
        if not pod:
            return ""
        name = pod["metadata"]["name"]
        out = kubectl("-n", NAMESPACE, "logs", name, f"--since-time={self.since}", check=False)
        previous = kubectl("-n", NAMESPACE, "logs", name, "--previous", check=False)
        return (previous.stdout if previous.returncode == 0 else "") + out.stdout

    def metrics(self) -> str:
        # Through the API server's service proxy: what Prometheus would scrape from the Service.
        return kubectl("get", "--raw", METRICS).stdout

    def metric(self, name: str) -> float:
        for line in self.metrics().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        raise AssertionError(f"metric {name} not exposed")
