"""The learner's own credentials (`breakfix learner-kubeconfig`): everything their lab needs,
nothing else. Each denial is a real request with that kubeconfig; it fails if the right were
granted. A User gets a certificate the cluster signs, a ServiceAccount a bound token."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.cli import breakfix
from tests.integration.cluster import kubectl
from tests.integration.labs import (
    apply_reference_solution,
    create_lab,
    delete_lab_and_wait_gone,
    wait_condition,
)
from tests.integration.operator import NAMESPACE, InClusterOperator

OWN, OTHER, SA_LAB = "t-lena", "t-lena-other", "t-sam"
SA_NAMESPACE = "breakfix-test-learners"


@pytest.fixture(scope="module")
def labs(operator: InClusterOperator) -> object:
    kubectl("create", "namespace", SA_NAMESPACE, check=False)
    kubectl("-n", SA_NAMESPACE, "create", "serviceaccount", "sam", check=False)
    create_lab(OWN, "crashloop-bad-command", seed=3, learner={"kind": "User", "name": "lena"})
    create_lab(OTHER, "image-wrong-tag", seed=3)
    sam = {"kind": "ServiceAccount", "name": "sam", "namespace": SA_NAMESPACE}
    create_lab(SA_LAB, "image-wrong-name", seed=3, learner=sam)
    for name in (OWN, OTHER, SA_LAB):
        wait_condition(name, "Ready", 180)
    yield None
    for name in (OWN, OTHER, SA_LAB):
        delete_lab_and_wait_gone(name)
    kubectl("delete", "namespace", SA_NAMESPACE, "--wait=false", check=False)


def issue(tmp_path: Path, *args: str) -> Path:
    path = tmp_path / "learner.kubeconfig"
    out = breakfix("learner-kubeconfig", *args, "--hours", "1", "-o", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    return path


def as_learner(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBECONFIG": str(config)},
        check=False,
    )


DENIED = {
    "read the Scenarios (hints and solutions)": ["get", "scenarios"],
    "read one Scenario": ["get", "scenario", "crashloop-bad-command", "-o", "yaml"],
    "read another learner's Lab": ["get", "lab", OTHER],
    "list every Lab": ["get", "labs"],
    "read another lab's namespace": ["-n", f"lab-{OTHER}", "get", "pods"],
    "read Secrets elsewhere": ["-n", "kube-system", "get", "secrets"],
    "read the operator": ["-n", NAMESPACE, "get", "pods"],
    "write its own score": [
        "patch", "lab", OWN, "--subresource=status", "--type=merge", "-p",
        '{"status": {"score": 100}}',
    ],
    "reveal hints or lift its time limit": [
        "patch", "lab", OWN, "--type=merge", "-p", '{"spec": {"hints": 3}}',
    ],
    "read Exams": ["get", "exams"],
}  # fmt: skip


@pytest.mark.parametrize("attempt", sorted(DENIED))
def test_a_user_learner_is_refused(labs: object, tmp_path: Path, attempt: str) -> None:
    config = issue(tmp_path, OWN)
    proc = as_learner(config, *DENIED[attempt])
    assert proc.returncode != 0, f"{attempt}: allowed: {proc.stdout}"
    assert "forbidden" in proc.stderr.lower(), proc.stderr


def test_a_user_learner_reads_its_lab_and_nodes_and_solves_it(labs: object, tmp_path: Path) -> None:
    config = issue(tmp_path, OWN)
    whoami = as_learner(config, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert whoami.stdout == "lena", whoami.stderr
    own = as_learner(config, "get", "lab", OWN, "-o", "jsonpath={.status.task}")
    assert own.returncode == 0 and own.stdout and "{{" not in own.stdout, own.stderr
    assert as_learner(config, "get", "nodes").returncode == 0
    # The namespace the kubeconfig starts in is the lab's.
    assert as_learner(config, "get", "deployments", "-o", "name").stdout.strip()
    apply_reference_solution(OWN, kubeconfig=str(config))
    wait_condition(OWN, "Solved", 120)


def test_a_service_account_learner_gets_a_token_with_the_same_limits(
    labs: object, tmp_path: Path
) -> None:
    config = issue(tmp_path, SA_LAB)
    whoami = as_learner(config, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert whoami.stdout == f"system:serviceaccount:{SA_NAMESPACE}:sam", whoami.stderr
    assert as_learner(config, "get", "lab", SA_LAB).returncode == 0
    for args in (["get", "scenarios"], ["get", "lab", OWN], ["-n", f"lab-{OWN}", "get", "pods"]):
        proc = as_learner(config, *args)
        assert proc.returncode != 0 and "forbidden" in proc.stderr.lower(), (args, proc.stderr)


def test_no_learner_no_kubeconfig(labs: object, tmp_path: Path) -> None:
    out = breakfix("learner-kubeconfig", OTHER)
    assert out.returncode == 2 and "has no spec.learner" in out.stderr, out.stderr
