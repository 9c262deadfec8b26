"""A learner who tries to leave the lab: every attempt is refused by the API server itself.

The learner is a User bound to the lab (spec.learner), acting through impersonation as kubectl
does with `--as`: the requests are authorized and admitted exactly as that user's own would be.
Each attempt is a real request; only impersonation, which cannot be nested, is asked of the
authorizer instead (`kubectl auth can-i`, a SubjectAccessReview).
"""

from __future__ import annotations

import json

import pytest

from tests.integration.chaos_report import count
from tests.integration.cluster import kubectl
from tests.integration.labs import create_lab, delete_lab_and_wait_gone, wait_condition
from tests.integration.operator import NAMESPACE, InClusterOperator

pytestmark = pytest.mark.chaos

LEARNER = "mallory"
OWN, OTHER = "t-hostile", "t-hostile-other"

HOST_ROOT_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "escape"},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "busybox:1.36",
                "command": ["sleep", "3600"],
                "securityContext": {"privileged": True},
                "volumeMounts": [{"name": "host", "mountPath": "/host"}],
            }
        ],
        "hostPID": True,
        "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
    },
}

ATTEMPTS: dict[str, tuple[list[str], str | None]] = {
    "read another lab's pods": (["-n", f"lab-{OTHER}", "get", "pods"], None),
    "read Secrets in kube-system": (["-n", "kube-system", "get", "secrets"], None),
    "make itself cluster-admin": (
        [
            "create",
            "clusterrolebinding",
            "escape",
            "--clusterrole=cluster-admin",
            f"--user={LEARNER}",
        ],
        None,
    ),
    "bind cluster-admin inside its own namespace": (
        [
            "-n",
            f"lab-{OWN}",
            "create",
            "rolebinding",
            "escape",
            "--clusterrole=cluster-admin",
            f"--user={LEARNER}",
        ],
        None,
    ),
    "write its Lab's score": (
        [
            "patch",
            "lab",
            OWN,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": {"score": 100}}),
        ],
        None,
    ),
    "empty the Scenario's checks": (
        [
            "patch",
            "scenario",
            "crashloop-bad-command",
            "--type=merge",
            "-p",
            json.dumps({"spec": {"checks": []}}),
        ],
        None,
    ),
    "delete its Lab": (["delete", "lab", OWN, "--wait=false"], None),
    "delete its lab namespace": (["delete", "namespace", f"lab-{OWN}", "--wait=false"], None),
    "delete the operator": (["-n", NAMESPACE, "delete", "deployment", "breakfix"], None),
    "run a privileged pod with the node's root mounted": (
        ["-n", f"lab-{OWN}", "create", "-f", "-"],
        json.dumps(HOST_ROOT_POD),
    ),
}


@pytest.fixture(scope="module")
def labs(operator: InClusterOperator) -> object:
    create_lab(OWN, "crashloop-bad-command", seed=1, learner={"kind": "User", "name": LEARNER})
    create_lab(OTHER, "rbac-missing-permission", seed=1)
    wait_condition(OWN, "Ready", 150)
    wait_condition(OTHER, "Ready", 150)
    yield None
    delete_lab_and_wait_gone(OWN)
    delete_lab_and_wait_gone(OTHER)


def as_learner(args: list[str], stdin: str | None = None) -> tuple[int, str]:
    proc = kubectl(f"--as={LEARNER}", *args, input=stdin, check=False)
    return proc.returncode, proc.stderr + proc.stdout


def test_the_learner_works_in_its_own_lab(labs: object) -> None:
    # Without this, every refusal below could be impersonation not working at all.
    code, out = as_learner(["-n", f"lab-{OWN}", "get", "deployments", "-o", "name"])
    assert code == 0 and "deployment.apps/" in out, out


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_every_escape_is_refused(labs: object, attempt: str) -> None:
    args, stdin = ATTEMPTS[attempt]
    code, out = as_learner(args, stdin)
    count("escapes", "attempted")
    assert code != 0, f"{attempt}: allowed: {out}"
    # Refused by authorization (Forbidden) or by Pod Security admission, never by a typo.
    assert "forbidden" in out.lower() or "violates podsecurity" in out.lower(), out
    count("escapes", "refused")


def test_the_learner_cannot_impersonate_anyone(labs: object) -> None:
    for target in ("users", "groups", "serviceaccounts"):
        proc = kubectl("auth", "can-i", "impersonate", target, f"--as={LEARNER}", check=False)
        assert proc.stdout.strip() == "no", (target, proc.stdout, proc.stderr)
