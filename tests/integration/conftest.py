from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.integration.cluster import ensure_cluster, kubectl
from tests.integration.operator import OperatorProcess
from tests.paths import CRDS, ROOT


@pytest.fixture(scope="session")
def cluster() -> str:
    kubeconfig = ensure_cluster()
    os.environ["KUBECONFIG"] = kubeconfig
    # Kopf logs in through kubernetes_asyncio, which read KUBECONFIG when it was imported,
    # before this fixture ran.
    from kubernetes_asyncio.config import kube_config

    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = kubeconfig
    return kubeconfig


def install_scenarios() -> None:
    """The built-in Scenarios, as `make install` applies them (the CRDs must exist)."""
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/labs.breakfix.dev",
        "crd/scenarios.breakfix.dev",
    )
    scenarios = subprocess.run(
        [sys.executable, "-m", "breakfix.cli.main", "export", str(ROOT / "labs")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=scenarios)


@pytest.fixture(scope="session")
def installed(cluster: str) -> None:
    """The CRDs and the built-in Scenarios, as `make install` applies them."""
    kubectl("apply", "--server-side", "-f", str(CRDS))
    install_scenarios()


@pytest.fixture(scope="module")
def operator(installed: None) -> Iterator[None]:
    """The operator running in this process (Kopf's own test runner), cluster-wide."""
    from kopf.testing import KopfRunner

    os.environ.setdefault("BREAKFIX_SAFETY_SECONDS", "60")
    args = ["run", "--all-namespaces", "--standalone", "-m", "breakfix.controller.handlers"]
    with KopfRunner(args, timeout=60) as runner:
        yield
    assert runner.exception is None, runner.output[-3000:]


@pytest.fixture(scope="module")
def chart_operator(
    installed: None, cluster: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator as the chart deploys it: its own process, authenticated as the chart's
    ServiceAccount with exactly the chart's RBAC, so every lab it provisions proves that RBAC."""
    from tests.integration import chart

    folder = tmp_path_factory.mktemp("chart-operator")
    rbac = chart.install_rbac()
    kubeconfig = chart.service_account_kubeconfig(cluster, folder / "kubeconfig")
    op = OperatorProcess(folder / "operator.log", kubeconfig=str(kubeconfig))
    op.start()
    try:
        op.wait_healthy()
        yield op
    finally:
        code = op.stop()
        log = op.log.read_text()
        chart.remove(rbac)
        # A permission the chart lacks shows as 403 in the operator's log, even where a retry
        # hid it from the lab's result.
        forbidden = [line for line in log.splitlines() if "forbidden" in line.lower()]
        assert not forbidden, "the chart's RBAC denied the operator:\n" + "\n".join(forbidden[:20])
        assert code == 0, log[-3000:]
