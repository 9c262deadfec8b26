from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cluster import ensure_cluster, hack_kind, kubectl
from tests.integration.operator import InClusterOperator
from tests.paths import CRDS, ROOT


@pytest.fixture(scope="session")
def cluster() -> str:
    kubeconfig = ensure_cluster()
    # Read by every client the tests and the CLI under test make (kube/config.py).
    os.environ["KUBECONFIG"] = kubeconfig
    return kubeconfig


@pytest.fixture(scope="session")
def deployed(cluster: str) -> None:
    """The operator image built from this checkout, loaded into kind and installed by the Helm
    chart, as `make up` does. On a cluster given by BREAKFIX_TEST_KUBECONFIG it must already be
    installed. The chart's values are the tests' own (operator-values.yaml)."""
    if not os.environ.get("BREAKFIX_TEST_KUBECONFIG"):
        hack_kind("deploy", f"--values={Path(__file__).parent / 'operator-values.yaml'}")


def install_scenarios() -> None:
    """The built-in Scenarios from this checkout, as `make install` applies them."""
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/labs.breakfix.dev",
        "crd/scenarios.breakfix.dev",
        "crd/exams.breakfix.dev",
    )
    scenarios = subprocess.run(
        [sys.executable, "-m", "breakfix.cli.main", "export", str(ROOT / "labs")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=scenarios)


@pytest.fixture(scope="session")
def installed(deployed: None) -> None:
    """The CRDs and Scenarios of this checkout over what the chart installed (Helm never
    upgrades CRDs)."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    install_scenarios()


@pytest.fixture(scope="module")
def operator(installed: None) -> Iterator[InClusterOperator]:
    """The chart's operator Deployment, running with the chart's ServiceAccount and RBAC, so
    every lab a test provisions proves that RBAC."""
    op = InClusterOperator()
    op.start()
    yield op
    # A permission the chart lacks shows as 403 in the operator's log, even where a retry hid
    # it from the lab's result.
    log = op.logs()
    forbidden = [line for line in log.splitlines() if "forbidden" in line.lower()]
    assert not forbidden, "the chart's RBAC denied the operator:\n" + "\n".join(forbidden[:20])


@pytest.fixture(scope="module")
def no_operator(installed: None) -> Iterator[None]:
    """The operator's Deployment scaled to zero for the module, then back."""
    op = InClusterOperator()
    op.stop()
    try:
        yield
    finally:
        op.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.integration.chaos_report import report

    report(ROOT / "chaos-report.json")
