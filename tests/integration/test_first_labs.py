"""The first labs, end to end: broken, graded, solved, cleaned up, by the in-cluster operator."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from breakfix.scenario.catalog import load_lab
from tests.integration.cluster import get_json, kubectl, wait_until
from tests.integration.labs import (
    apply_reference_solution,
    condition,
    create_lab,
    delete_lab_and_wait_gone,
    lab,
    wait_condition,
)
from tests.integration.operator import InClusterOperator
from tests.paths import LABS

FIRST_LABS = ["pending-insufficient-cpu", "crashloop-bad-command", "rbac-missing-permission"]


@pytest.mark.parametrize("scenario", FIRST_LABS)
def test_lab_is_broken_then_solved_then_cleaned_up(
    operator: InClusterOperator, scenario: str
) -> None:
    name = f"t-{scenario[:20]}"
    create_lab(name, scenario, seed=11)
    wait_condition(name, "Ready", 150)
    status = lab(name)["status"]
    assert all(s["holds"] for s in status["symptoms"])
    assert condition(name, "Solved")["status"] == "False"
    assert status["passed"] < status["total"]
    failing = [c for c in status["checks"] if not c["passed"]]
    assert failing and all(c["message"] for c in failing)
    # The learner reads the task with plain kubectl, with this lab's names filled in.
    task = kubectl("get", "lab", name, "-o", "jsonpath={.status.task}").stdout
    assert f"lab-{name}" in task and "{{" not in task, task

    started = time.monotonic()
    apply_reference_solution(name)
    wait_condition(name, "Solved", 10)
    solved_after = time.monotonic() - started
    status = lab(name)["status"]
    assert status["passed"] == status["total"] and status["score"] == 100
    assert status["firstSolvedAt"]
    print(f"{scenario}: Solved {solved_after:.1f}s after the reference solution")

    delete_lab_and_wait_gone(name)
    leftovers = kubectl("get", "all", "-A", "-l", f"breakfix.dev/lab={name}", "-o", "name")
    assert leftovers.stdout.strip() == ""


def test_unknown_scenario_gives_a_clear_condition(operator: InClusterOperator) -> None:
    create_lab("t-unknown", "no-such-scenario")
    wait_condition("t-unknown", "Ready", 30, status="False")
    ready = condition("t-unknown", "Ready")
    assert ready["reason"] == "ScenarioNotFound"
    assert "no-such-scenario" in ready["message"]
    assert kubectl("get", "namespace", "lab-t-unknown", check=False).returncode != 0
    kubectl("delete", "lab", "t-unknown")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            '{"scenario": "crashloop-bad-command", "hints": -1}',
            "spec.hints: Invalid value: -1: spec.hints in body should be greater than or equal to 0",  # noqa: E501
        ),
        ('{"scenario": "Bad_Name"}', "spec.scenario in body should match"),
        (
            '{"scenario": "crashloop-bad-command", "timeLimitSeconds": 5}',
            "spec.timeLimitSeconds: Invalid value: 5",
        ),
        (
            '{"scenario": "crashloop-bad-command", '
            '"learner": {"kind": "ServiceAccount", "name": "x"}}',
            "spec.learner.namespace is required for a ServiceAccount",
        ),
    ],
)
def test_invalid_spec_is_rejected_by_the_api_server(
    installed: None, spec: str, message: str
) -> None:
    body = (
        '{"apiVersion": "breakfix.dev/v1alpha1", "kind": "Lab", "metadata": {"name": "t-bad"}, '
        f'"spec": {spec}}}'
    )
    proc = kubectl("apply", "-f", "-", input=body, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert kubectl("get", "lab", "t-bad", check=False).returncode != 0


def test_scenario_cannot_change_and_hints_cannot_go_back(installed: None) -> None:
    create_lab("t-immutable", "no-such-scenario", hints=1)
    try:
        proc = kubectl(
            "patch",
            "lab",
            "t-immutable",
            "--type=merge",
            "-p",
            '{"spec": {"scenario": "crashloop-bad-command"}}',
            check=False,
        )
        assert "spec.scenario is immutable" in proc.stderr
        proc = kubectl(
            "patch",
            "lab",
            "t-immutable",
            "--type=merge",
            "-p",
            '{"spec": {"hints": 0}}',
            check=False,
        )
        assert "spec.hints cannot be lowered" in proc.stderr
    finally:
        kubectl("delete", "lab", "t-immutable", "--wait=false")


def test_reset_restores_the_broken_state_and_clears_progress(operator: InClusterOperator) -> None:
    name = "t-reset"
    create_lab(name, "rbac-missing-permission", seed=3)
    wait_condition(name, "Ready", 60)
    apply_reference_solution(name)
    wait_condition(name, "Solved", 10)
    first_uid = get_json("namespace", f"lab-{name}")["metadata"]["uid"]

    kubectl("patch", "lab", name, "--type=merge", "-p", '{"spec": {"reset": 1}}')
    # Resetting can be over within a second: wait for its outcome, not for the passing state.
    wait_until(lambda: lab(name)["status"].get("observedReset") == 1, 120, "the reset")
    wait_condition(name, "Ready", 120)
    status = lab(name)["status"]
    assert status["observedReset"] == 1
    assert condition(name, "Solved")["status"] == "False"
    assert "firstSolvedAt" not in status
    assert get_json("namespace", f"lab-{name}")["metadata"]["uid"] != first_uid
    reasons = kubectl(
        "get",
        "events",
        "-n",
        "default",
        "--field-selector",
        f"involvedObject.name={name}",
        "-o",
        "jsonpath={.items[*].reason}",
    ).stdout
    assert "Reset" in reasons.split()
    delete_lab_and_wait_gone(name)


def test_learner_gets_rights_in_the_lab_namespace_only(operator: InClusterOperator) -> None:
    name = "t-learner"
    create_lab(
        name, "rbac-missing-permission", seed=1, learner={"kind": "User", "name": "student-7"}
    )
    wait_condition(name, "Ready", 60)

    def can(verb: str, resource: str, namespace: str) -> str:
        return kubectl(
            "auth", "can-i", verb, resource, "-n", namespace, "--as=student-7", check=False
        ).stdout.strip()

    assert can("patch", "roles", f"lab-{name}") == "yes"
    assert can("delete", "pods", f"lab-{name}") == "yes"
    assert can("list", "pods", "default") == "no"
    delete_lab_and_wait_gone(name)


def _custom_scenario(name: str, edit: Callable[[dict[str, Any]], None]) -> None:
    """A course's own Scenario, derived from a built-in one and applied with kubectl."""
    scenario = load_lab(LABS / "pending-insufficient-cpu").to_scenario()
    scenario["metadata"] = {"name": name}
    edit(scenario["spec"])
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(scenario))


@pytest.mark.parametrize(
    ("scenario", "edit", "reason", "message"),
    [
        (
            "t-rejected",
            lambda spec: spec["manifests"][0]["spec"].update(replicas=-1),
            "ProvisioningFailed",
            "spec.replicas: Invalid value: -1",
        ),
        (
            "t-unrenderable",
            lambda spec: spec["manifests"][0]["metadata"].update(name="{{ no_such_variable }}"),
            "ScenarioInvalid",
            "manifests[0].metadata.name: 'no_such_variable' is undefined",
        ),
    ],
)
def test_scenario_that_cannot_be_provisioned_leaves_nothing(
    operator: InClusterOperator,
    scenario: str,
    edit: Callable[[dict[str, Any]], None],
    reason: str,
    message: str,
) -> None:
    _custom_scenario(scenario, edit)
    name = f"{scenario}-lab"
    create_lab(name, scenario)
    wait_until(lambda: condition(name, "Ready").get("reason") == reason, 30, reason)
    assert message in condition(name, "Ready")["message"]
    wait_until(
        lambda: kubectl("get", "namespace", f"lab-{name}", check=False).returncode != 0,
        60,
        "no lab namespace",
    )
    delete_lab_and_wait_gone(name)
    kubectl("delete", "scenario", scenario)
