"""Killing the operator at any moment and starting it again ends in one correct lab."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cluster import get_json, kubectl, wait_until
from tests.integration.labs import (
    apply_reference_solution,
    create_lab,
    delete_lab_and_wait_gone,
    lab,
    wait_condition,
)
from tests.integration.operator import OperatorProcess


@pytest.fixture
def operator_process(installed: None, tmp_path: Path) -> Iterator[OperatorProcess]:
    op = OperatorProcess(tmp_path / "operator.log")
    yield op
    op.stop()
    print(op.log.read_text()[-4000:])


def test_kill_during_provisioning_then_restart(operator_process: OperatorProcess) -> None:
    name = "t-restart"
    namespace = f"lab-{name}"
    create_lab(name, "crashloop-bad-command", seed=5)
    operator_process.start()
    # Kill the moment the namespace exists: the manifests are being applied.
    wait_until(
        lambda: kubectl("get", "namespace", namespace, check=False).returncode == 0,
        60,
        "the lab namespace",
        interval=0.05,
    )
    operator_process.kill()
    operator_process.start()
    wait_condition(name, "Ready", 150)
    deployments = get_json("deployments", "-n", namespace)["items"]
    assert len(deployments) == 1
    uid = deployments[0]["metadata"]["uid"]
    started_at = lab(name)["status"]["startedAt"]

    # A restart after Ready must neither provision again nor restart the clock.
    operator_process.kill()
    operator_process.start()
    apply_reference_solution(name)
    wait_condition(name, "Solved", 30)
    [deployment] = get_json("deployments", "-n", namespace)["items"]
    assert deployment["metadata"]["uid"] == uid
    assert lab(name)["status"]["startedAt"] == started_at
    assert len(get_json("namespaces", "-l", f"breakfix.dev/lab={name}")["items"]) == 1
    delete_lab_and_wait_gone(name)
