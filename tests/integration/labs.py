"""Driving labs as a learner would: kubectl only."""

from __future__ import annotations

import json
from typing import Any

from breakfix.scenario.catalog import load_lab
from breakfix.scenario.render import render
from breakfix.scenario.solution import solution_commands
from tests.integration.cluster import get_json, kubectl, wait_until
from tests.paths import LABS


def create_lab(name: str, scenario: str, seed: int | None = None, **spec: Any) -> None:
    """Create a Lab, first removing one of that name that an interrupted run left behind."""
    if kubectl("get", "lab", name, check=False).returncode == 0:
        delete_lab_and_wait_gone(name)
    body: dict[str, Any] = {"scenario": scenario, **spec}
    if seed is not None:
        body["seed"] = seed
    lab = {
        "apiVersion": "breakfix.dev/v1alpha1",
        "kind": "Lab",
        "metadata": {"name": name},
        "spec": body,
    }
    kubectl("apply", "-f", "-", input=json.dumps(lab))


def lab(name: str) -> dict[str, Any]:
    result: dict[str, Any] = get_json("lab", name)
    return result


def condition(name: str, type_: str) -> dict[str, Any]:
    for cond in lab(name).get("status", {}).get("conditions", []):
        if cond["type"] == type_:
            return dict(cond)
    return {}


def wait_condition(name: str, type_: str, timeout: int, status: str = "True") -> None:
    proc = kubectl(
        "wait",
        f"--for=condition={type_}={status}",
        f"--timeout={timeout}s",
        f"lab/{name}",
        check=False,
        timeout=timeout + 10,
    )
    assert proc.returncode == 0, (
        f"lab {name}: {type_} not {status} in {timeout}s: {proc.stderr.strip()}\n"
        f"status: {json.dumps(lab(name).get('status'), indent=1)}"
    )


def apply_reference_solution(
    name: str,
    as_user: str | None = None,
    steps: int | None = None,
    kubeconfig: str | None = None,
) -> None:
    """The lab's reference solution through kubectl, as `as_user` if given (`--as`) or with a
    learner's own `kubeconfig`; only its first `steps` steps if given (a task done partly)."""
    status = lab(name)["status"]
    scenario = lab(name)["spec"]["scenario"]
    folder = load_lab(LABS / scenario)
    rendered = render(
        folder.spec, scenario, name, int(status["seed"]), status.get("node"), status.get("shell")
    )
    commands = solution_commands(rendered.solution, status["namespace"])
    who = [f"--as={as_user}"] if as_user else []
    who += [f"--kubeconfig={kubeconfig}"] if kubeconfig else []
    for command in commands[:steps]:
        kubectl(*who, *command.args, input=command.stdin)


def delete_lab_and_wait_gone(name: str, timeout: int = 120) -> None:
    namespace = f"lab-{name}"
    kubectl("delete", "lab", name, "--wait=true", timeout=timeout)
    wait_until(
        lambda: kubectl("get", "namespace", namespace, check=False).returncode != 0,
        timeout,
        f"namespace {namespace} to be deleted",
    )
