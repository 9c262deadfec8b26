"""Every error the CLI can meet says what is wrong and what to do; no tracebacks.

This module runs with the operator's Deployment scaled to zero, and last among the CLI tests: it
removes the CRDs for one test and puts them back.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli import breakfix
from tests.integration.cluster import kubectl, wait_until
from tests.integration.operator import InClusterOperator
from tests.paths import CRDS


def assert_clean_error(out: object, text: str) -> None:
    stderr = getattr(out, "stderr", "")
    assert getattr(out, "returncode", 0) != 0
    assert text in stderr, stderr
    assert "Traceback" not in stderr


def test_no_cluster_reachable(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text("""apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
""")
    out = breakfix("--kubeconfig", str(config), "list")
    assert_clean_error(out, "cannot reach the Kubernetes API at https://127.0.0.1:1")


def test_unknown_scenario_and_lab(no_operator: None) -> None:
    assert_clean_error(
        breakfix("start", "no-such-scenario"), "no scenario named 'no-such-scenario'"
    )
    assert_clean_error(breakfix("status", "no-such-lab"), "no lab named 'no-such-lab'")
    assert_clean_error(breakfix("grade", "--wait", "soon", "x"), "not a duration: 'soon'")


def test_operator_not_running(no_operator: None) -> None:
    name = "cli-no-operator"
    kubectl("delete", "lab", name, "--ignore-not-found")
    out = breakfix("start", "rbac-missing-permission", "--name", name, timeout=60)
    assert_clean_error(out, "is the breakfix operator running?")
    kubectl("delete", "lab", name)


def test_crds_not_installed(no_operator: None) -> None:
    # Deleting the CRDs deletes every Lab; their finalizers need the operator (the quick
    # start's `first` lab may be there too), so clean them up properly first.
    if kubectl("get", "labs", "-o", "name").stdout.strip():
        operator = InClusterOperator()
        operator.start()
        kubectl("delete", "labs", "--all", "--wait=true", timeout=180)
        operator.stop()
    kubectl("delete", "-f", str(CRDS), "--wait=true", timeout=120)
    try:
        assert_clean_error(breakfix("list"), "the breakfix CRDs are not installed")
        assert_clean_error(breakfix("status", "x"), "run `make install`")
    finally:
        kubectl("apply", "--server-side", "-f", str(CRDS))
        wait_until(
            lambda: kubectl("get", "labs", check=False).returncode == 0,
            60,
            "the CRDs to serve again",
        )
        from tests.integration.conftest import install_scenarios

        install_scenarios()
