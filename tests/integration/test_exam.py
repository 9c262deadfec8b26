"""An exam on the cluster: four labs under one clock for one learner, who works with only their
own kubeconfig (`breakfix learner-kubeconfig --exam`: a client certificate the cluster signed,
with the rights the exam gave them); two tasks solved, one partly, one left; handed in (the
deadline moves to that moment), scored, frozen, and deleted with everything it made."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli import breakfix
from tests.integration.cluster import get_json, kubectl, wait_until
from tests.integration.labs import apply_reference_solution, lab, wait_condition
from tests.integration.operator import InClusterOperator

LEARNER = "erin"
EXAM = "t-exam"
TASKS = [
    {"scenario": "crashloop-bad-command", "weight": 4},
    {"scenario": "image-wrong-tag", "weight": 2},
    {"scenario": "multi-crash-and-selector", "weight": 8},
    {"scenario": "config-env-var-typo", "weight": 6},
]


def exam_body(name: str, **spec: Any) -> str:
    body = {
        "apiVersion": "breakfix.dev/v1alpha1",
        "kind": "Exam",
        "metadata": {"name": name},
        "spec": {"learner": {"kind": "User", "name": LEARNER}, "timeLimitMinutes": 60} | spec,
    }
    return json.dumps(body)


def exam(name: str = EXAM) -> dict[str, Any]:
    result: dict[str, Any] = get_json("exam", name)
    return result


def phase_is(name: str, phase: str, timeout: float) -> dict[str, Any]:
    return dict(
        wait_until(
            lambda: (e := exam(name)).get("status", {}).get("phase") == phase and e,
            timeout,
            f"exam {name} to be {phase}",
        )
    )


def delete_exam(name: str) -> None:
    kubectl("delete", "exam", name, "--ignore-not-found", "--wait=true", timeout=180)


@pytest.fixture(scope="module")
def running(operator: InClusterOperator) -> Any:
    delete_exam(EXAM)
    kubectl("apply", "-f", "-", input=exam_body(EXAM, tasks=TASKS, passingScore=40))
    yield phase_is(EXAM, "Running", 300)
    delete_exam(EXAM)


@pytest.fixture(scope="module")
def learner_kubeconfig(running: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """What the learner is given, and all the test's learner works with."""
    path = tmp_path_factory.mktemp("learner") / "erin.kubeconfig"
    out = breakfix("learner-kubeconfig", "--exam", EXAM, "--hours", "1", "-o", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    return str(path)


def test_bad_exams_are_refused_naming_the_field(operator: InClusterOperator) -> None:
    both = exam_body("t-exam-bad", tasks=TASKS, pick={"tags": ["cka"], "count": 2})
    proc = kubectl("apply", "-f", "-", input=both, check=False)
    assert proc.returncode != 0 and "give either spec.tasks or spec.pick" in proc.stderr
    zero = exam_body("t-exam-bad", tasks=[{"scenario": "image-wrong-tag", "weight": 0}])
    proc = kubectl("apply", "-f", "-", input=zero, check=False)
    assert proc.returncode != 0 and "spec.tasks[0].weight" in proc.stderr
    kubectl("apply", "-f", "-", input=exam_body("t-exam-bad", tasks=[{"scenario": "nope"}]))
    try:
        refused = phase_is("t-exam-bad", "Invalid", 60)
        ready = refused["status"]["conditions"][0]
        assert ready["reason"] == "InvalidExam"
        assert ready["message"] == "spec.tasks[0].scenario: Scenario 'nope' does not exist"
        assert kubectl("get", "lab", "t-exam-bad-1", check=False).returncode != 0
    finally:
        delete_exam("t-exam-bad")


def test_the_exam_starts_one_clock_for_labs_only_its_learner_may_work_in(
    running: Any, learner_kubeconfig: str
) -> None:
    status = running["status"]
    assert [t["lab"] for t in status["tasks"]] == [f"{EXAM}-{i}" for i in range(1, 5)]
    for task in status["tasks"]:
        spec = lab(task["lab"])["spec"]
        assert spec["deadline"] == status["deadline"]
        assert spec["learner"] == {"kind": "User", "name": LEARNER}
    who = f"--kubeconfig={learner_kubeconfig}"
    whoami = kubectl(who, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert whoami.stdout == LEARNER  # not the admin's credentials
    mine = kubectl(who, "-n", f"lab-{EXAM}-1", "get", "deployments", check=False)
    assert mine.returncode == 0, mine.stderr
    elsewhere = kubectl(who, "-n", "kube-system", "get", "pods", check=False)
    assert elsewhere.returncode != 0 and "forbidden" in elsewhere.stderr.lower()


def test_a_second_exam_for_the_same_learner_waits_for_nothing_and_creates_nothing(
    running: Any,
) -> None:
    kubectl("apply", "-f", "-", input=exam_body("t-exam-second", tasks=TASKS[:1]))
    try:
        refused = phase_is("t-exam-second", "Invalid", 60)
        assert refused["status"]["conditions"][0]["reason"] == "LearnerBusy"
        assert kubectl("get", "lab", "t-exam-second-1", check=False).returncode != 0
    finally:
        delete_exam("t-exam-second")


def test_partial_credit_hand_in_and_a_frozen_score(
    running: Any, learner_kubeconfig: str, tmp_path: Path
) -> None:
    mine = learner_kubeconfig
    apply_reference_solution(f"{EXAM}-1", kubeconfig=mine)
    apply_reference_solution(f"{EXAM}-2", kubeconfig=mine)
    # Only the crash of the two faults: the backend runs, the Service still selects nothing.
    apply_reference_solution(f"{EXAM}-3", kubeconfig=mine, steps=1)
    wait_condition(f"{EXAM}-1", "Solved", 120)
    wait_condition(f"{EXAM}-2", "Solved", 120)
    wait_until(
        lambda: exam()["status"]["tasks"][2]["passed"] == 1, 120, "the partial fix to be graded"
    )
    kubectl("patch", "exam", EXAM, "--type=merge", "-p", '{"spec": {"submitted": true}}')
    done = phase_is(EXAM, "Finished", 120)["status"]
    tasks = done["tasks"]
    assert [t["points"] for t in tasks] == [4, 2, 8 * 1 / tasks[2]["asked"], 0], tasks
    assert tasks[2]["asked"] == 4 and tasks[3]["note"] == f"0 of {tasks[3]['asked']} checks pass"
    assert done["points"] == 8 and done["maxPoints"] == 20 and done["percent"] == 40
    assert done["passed"] is True and done["result"] == "8/20 (40%)"
    for task in tasks:
        assert lab(task["lab"])["status"]["final"] is True

    # The report for CI and for the learner: one case per task, failures explained.
    report = tmp_path / "exam.json"
    xml = tmp_path / "exam.xml"
    graded = breakfix("exam", "grade", EXAM, "--junit", str(xml), "--json", str(report))
    assert graded.returncode == 0, graded.stdout + graded.stderr  # passed: 40 % of 40 %
    assert "8/20 points, 40% — passed" in graded.stdout
    rendered = json.loads(report.read_text())
    assert [t["points"] for t in rendered["tasks"]] == [t["points"] for t in tasks]
    cases = ET.parse(xml).getroot().findall(".//testcase")
    assert [c.find("failure") is None for c in cases] == [True, True, False, False]
    assert "expected: " in (cases[2].find("failure").text or "")  # type: ignore[union-attr]

    # After the deadline: a fix changes neither the lab nor the exam.
    frozen = lab(f"{EXAM}-4")["status"]
    apply_reference_solution(f"{EXAM}-4", kubeconfig=mine)
    wait_until(
        lambda: kubectl(
            "-n", f"lab-{EXAM}-4", "rollout", "status", "deployment", "--timeout=5s", check=False
        ).returncode == 0,
        120,
        "the late fix to roll out",
    )  # fmt: skip
    time.sleep(3)
    assert lab(f"{EXAM}-4")["status"] == frozen
    assert exam()["status"] == phase_is(EXAM, "Finished", 5)["status"]
    assert exam()["status"]["points"] == 8


def test_deleting_the_exam_deletes_its_labs(running: Any) -> None:
    delete_exam(EXAM)
    for i in range(1, 5):
        wait_until(
            lambda i=i: kubectl("get", "namespace", f"lab-{EXAM}-{i}", check=False).returncode != 0,
            180,
            f"lab-{EXAM}-{i} to be deleted",
        )
        assert kubectl("get", "lab", f"{EXAM}-{i}", check=False).returncode != 0
