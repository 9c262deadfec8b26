"""The CLI against the cluster with the operator: the learner's loop and CI grading."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.integration.cli import breakfix
from tests.integration.cluster import kubectl
from tests.integration.labs import apply_reference_solution, delete_lab_and_wait_gone
from tests.integration.operator import InClusterOperator


def test_list_and_show(operator: InClusterOperator) -> None:
    out = breakfix("list", "--tag", "rbac")
    assert out.returncode == 0, out.stderr
    assert "rbac-missing-permission" in out.stdout and "crashloop-bad-command" not in out.stdout
    out = breakfix("show", "rbac-missing-permission")
    assert out.returncode == 0 and "<sa>" in out.stdout and "least privilege" in out.stdout


def test_start_status_watch_solve_and_grade(operator: InClusterOperator, tmp_path: Path) -> None:
    name = "cli-lab"
    kubectl("delete", "lab", name, "--ignore-not-found", "--wait=true")
    out = breakfix("start", "crashloop-bad-command", "--name", name, "--seed", "4")
    assert out.returncode == 0, out.stderr
    assert f"kubectl config set-context --current --namespace lab-{name}" in out.stdout
    assert "CrashLoopBackOff" in out.stdout  # the task text

    out = breakfix("status", name)
    assert out.returncode == 0 and "✗" in out.stdout and "deployment-available" in out.stdout

    hint = breakfix("hint", name)
    assert hint.returncode == 0 and "hint 1/3" in hint.stdout

    watcher: dict[str, object] = {}

    def watch() -> None:
        result = breakfix("status", name, "--watch", timeout=120)
        watcher["rc"], watcher["out"] = result.returncode, result.stdout

    thread = threading.Thread(target=watch)
    thread.start()
    apply_reference_solution(name)
    thread.join(timeout=130)
    assert watcher.get("rc") == 0, watcher
    assert "solved" in str(watcher["out"])

    junit, report = tmp_path / "grades.xml", tmp_path / "grades.json"
    out = breakfix("grade", name, "--junit", str(junit), "--json", str(report))
    assert out.returncode == 0, out.stdout + out.stderr
    suites = ET.parse(junit).getroot()
    assert suites.get("tests") == "3" and suites.get("failures") == "0"
    assert [c.get("name") for c in suites.iter("testcase")] == [
        "deployment-available",
        "readiness-probe-kept",
        "deployment-kept",
    ]
    data = json.loads(report.read_text())
    assert data["labs"][0]["solved"] is True and data["labs"][0]["score"] == 90
    delete_lab_and_wait_gone(name)


def test_grade_of_an_unsolved_lab_fails_with_the_messages(
    operator: InClusterOperator, tmp_path: Path
) -> None:
    name = "cli-unsolved"
    kubectl("delete", "lab", name, "--ignore-not-found", "--wait=true")
    assert breakfix("start", "pending-insufficient-cpu", "--name", name).returncode == 0
    junit = tmp_path / "grades.xml"
    out = breakfix("grade", name, "--wait", "5s", "--junit", str(junit))
    assert out.returncode == 1
    assert "deployment-available" in out.stdout and "Insufficient cpu" in out.stdout
    failures = list(ET.parse(junit).getroot().iter("failure"))
    assert len(failures) == 1 and "Insufficient cpu" in (failures[0].get("message") or "")
    delete_lab_and_wait_gone(name)
