"""The Helm chart against the real API server: installed, accepted, and strict about values."""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from tests.integration import chart
from tests.integration.cluster import get_json, kubectl
from tests.integration.operator import InClusterOperator


def test_the_chart_runs_the_operator_from_its_image(operator: InClusterOperator) -> None:
    status = json.loads(
        helm_on_cluster("status", chart.RELEASE, "--namespace", chart.NAMESPACE, "-o", "json")
    )
    assert status["info"]["status"] == "deployed"
    pod = operator.pod()
    assert pod and operator.ready()
    [container] = pod["spec"]["containers"]
    assert container["image"].startswith("breakfix/operator:")
    assert pod["spec"]["serviceAccountName"] == chart.RELEASE
    # The pod runs as the chart says: non-root, read-only root, no capabilities.
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # Its metrics Service serves the operator's own counters.
    assert "breakfix_labs_active" in operator.metrics()


def test_rendered_chart_is_accepted_by_the_api_server(installed: None) -> None:
    """Every object, in a namespace of its own, through the API server's admission (dry run)."""
    namespace = "breakfix-dryrun"
    objs = chart.rendered("--include-crds", namespace=namespace)
    kinds = sorted({o["kind"] for o in objs})
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "DaemonSet",
        "Deployment",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Scenario",
        "Secret",
        "Service",
        "ServiceAccount",
    ]
    kubectl("create", "namespace", namespace, check=False)
    try:
        proc = kubectl(
            "apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(objs), timeout=180
        )
    finally:
        kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")
    applied = [line for line in proc.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == len(objs), proc.stdout
    assert get_json("namespace", chart.NAMESPACE)["status"]["phase"] == "Active"


def test_operator_pod_is_locked_down() -> None:
    [deployment] = [o for o in chart.rendered() if o["kind"] == "Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "memory" in container["resources"]["limits"]


def test_the_node_agent_holds_no_api_credentials_and_the_operator_shares_its_token() -> None:
    objs = chart.rendered()
    [agent] = [o for o in objs if o["kind"] == "DaemonSet"]
    pod = agent["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["hostNetwork"] is True and pod["hostPID"] is True
    assert pod["tolerations"] == [{"operator": "Exists"}]
    # Its own name: the operator's Deployment and metrics Service never select it.
    labels = agent["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "breakfix-agent"
    [secret] = [o for o in objs if o["kind"] == "Secret"]
    [deployment] = [o for o in objs if o["kind"] == "Deployment"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["agent-token"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert {v["name"]: v for v in pod["volumes"]}["token"]["secret"]["secretName"] == (
        secret["metadata"]["name"]
    )
    # Without the agent, no privileged pod at all.
    assert not [
        o
        for o in chart.rendered("--set", "agent.enabled=false")
        if o["kind"] in ("DaemonSet", "Secret")
    ]


def test_unknown_values_are_rejected_with_the_key_named() -> None:
    proc = chart.template("--set", "replicas=2")  # the key is replicaCount
    assert proc.returncode != 0
    assert "replicas" in proc.stderr
    assert chart.template("--set", "replicaCount=2").returncode == 0
    proc = chart.template("--set", "replicaCount=-1")
    assert proc.returncode != 0 and "replicaCount" in proc.stderr
    proc = chart.template("--set", "image.pullPolicy=Sometimes")
    assert proc.returncode != 0
    assert "pullPolicy" in proc.stderr


def test_scenarios_can_be_left_out() -> None:
    kinds = {o["kind"] for o in chart.rendered("--set", "scenarios.install=false")}
    assert "Scenario" not in kinds


def helm_on_cluster(*args: str) -> str:
    proc = subprocess.run(
        [chart.helm(), *args, "--kubeconfig", os.environ["KUBECONFIG"]],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout
