"""Exams without a cluster: planning from the catalog, a task's points, and the exam's reconcile
from start to the frozen result."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import yaml

from breakfix.exam.decide import (
    DONE,
    GRACE_SECONDS,
    INVALID,
    RUNNING,
    CreateLab,
    ExamObserved,
    OtherExam,
    SetDeadline,
    decide_exam,
)
from breakfix.exam.models import ExamSpec
from breakfix.exam.plan import PlanError, plan
from breakfix.exam.score import task_score
from breakfix.lab.conditions import iso
from breakfix.scenario.catalog import load_catalog
from tests.paths import LABS

T0 = 1_800_000_000.0
CATALOG = {f.id: f.to_scenario()["spec"] for f in load_catalog(LABS)}
LEARNER = {"kind": "User", "name": "alice"}
TASKS = [
    {"scenario": "svc-selector-mismatch", "weight": 4},
    {"scenario": "crashloop-bad-command", "weight": 6},
    {"scenario": "image-wrong-tag", "weight": 2},
    {"scenario": "config-env-var-typo", "weight": 8},
]


def spec(**extra: Any) -> dict[str, Any]:
    return {"learner": LEARNER, "tasks": TASKS, "timeLimitMinutes": 60} | extra


def check(name: str, passed: bool, guard: bool = False) -> dict[str, Any]:
    return {"name": name, "passed": passed, "guard": guard, "message": f"{name} says so"}


def lab_status(
    passed: dict[str, bool], asked: list[str], guard_ok: bool = True, **extra: Any
) -> dict[str, Any]:
    checks = [check(n, p) for n, p in passed.items()] + [check("kept", guard_ok, guard=True)]
    ready = {"type": "Ready", "status": "True", "reason": "SymptomsConfirmed"}
    return {"checks": checks, "asked": asked, "conditions": [ready]} | extra


# --- planning


def test_plan_keeps_the_order_weights_and_gives_each_lab_a_seed() -> None:
    tasks = plan("alice-cka", ExamSpec.model_validate(spec()), CATALOG, 7)
    assert [(t.lab, t.scenario, t.weight) for t in tasks] == [
        ("alice-cka-1", "svc-selector-mismatch", 4),
        ("alice-cka-2", "crashloop-bad-command", 6),
        ("alice-cka-3", "image-wrong-tag", 2),
        ("alice-cka-4", "config-env-var-typo", 8),
    ]
    again = plan("alice-cka", ExamSpec.model_validate(spec()), CATALOG, 7)
    assert [t.seed for t in tasks] == [t.seed for t in again]
    other = plan("alice-cka", ExamSpec.model_validate(spec()), CATALOG, 8)
    assert [t.seed for t in tasks] != [t.seed for t in other]


def test_pick_draws_from_the_tags_at_most_one_node_lab() -> None:
    picked = {"learner": LEARNER, "pick": {"tags": ["cka"], "count": 12}, "timeLimitMinutes": 120}
    tasks = plan("bob", ExamSpec.model_validate(picked), CATALOG, 3)
    assert len({t.scenario for t in tasks}) == 12
    assert all("cka" in CATALOG[t.scenario]["tags"] for t in tasks)
    assert sum(t.exclusive for t in tasks) <= 1
    assert [t.scenario for t in tasks] == [
        t.scenario for t in plan("bob", ExamSpec.model_validate(picked), CATALOG, 3)
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"tasks": [{"scenario": "no-such-lab"}]},
            "spec.tasks[0].scenario: Scenario 'no-such-lab' does not exist",
        ),
        (
            {"tasks": [TASKS[0], TASKS[0]]},
            "spec.tasks[1].scenario: 'svc-selector-mismatch' is already task 1",
        ),
        (
            {"pick": {"tags": ["cka", "no-such-tag"], "count": 2}, "tasks": None},
            "spec.pick.count: 2 asked, but only 0 scenarios carry the tags cka, no-such-tag",
        ),
        ({"timeLimitMinutes": 5}, "spec.timeLimitMinutes: 5 minutes is less than half the"),
    ],
)
def test_a_plan_that_cannot_run_names_the_field(change: dict[str, Any], message: str) -> None:
    raw = {k: v for k, v in spec(**change).items() if v is not None}
    with pytest.raises(PlanError) as err:
        plan("x", ExamSpec.model_validate(raw), CATALOG, 1)
    assert str(err.value).startswith(message)


def test_two_node_labs_are_refused() -> None:
    node_labs = sorted(n for n, s in CATALOG.items() if s.get("exclusive"))[:2]
    raw = spec(tasks=[{"scenario": n} for n in node_labs], timeLimitMinutes=120)
    with pytest.raises(PlanError, match="at most one"):
        plan("x", ExamSpec.model_validate(raw), CATALOG, 1)


# --- a task's points


def test_points_count_what_the_task_asked_for() -> None:
    status = lab_status({"a": True, "b": False, "c": True}, asked=["a", "b"])
    scored = task_score(10, status)
    # "c" passed before anything was done: no credit for it.
    assert (scored.points, scored.asked, scored.passed) == (5.0, 2, 1)
    assert scored.note == "1 of 2 checks pass"


def test_a_failing_guard_or_a_broken_check_scores_zero() -> None:
    shortcut = task_score(10, lab_status({"a": True, "b": True}, ["a", "b"], guard_ok=False))
    assert shortcut.points == 0 and shortcut.note.startswith("0: kept:")
    broke = task_score(10, lab_status({"a": True, "c": False}, asked=["a"]))
    assert broke.points == 0 and "c passed before and fails now" in broke.note


def test_hints_cost_their_share_and_a_lab_never_ready_scores_nothing() -> None:
    assert task_score(10, lab_status({"a": True}, ["a"], hintCost=25)).points == 7.5
    assert task_score(10, {}).points == 0


# --- the exam's reconcile


def observed(
    labs: dict[str, Any], now: float, status: dict[str, Any] | None = None
) -> ExamObserved:
    return ExamObserved(
        name="alice-cka",
        uid="u-1",
        generation=1,
        created=iso(T0),
        spec=spec(),
        status=status or {},
        scenarios=CATALOG,
        labs=labs,
        now=now,
        new_seed=99,
    )


def labs_with(statuses: list[dict[str, Any]], deadline: str | None = None) -> dict[str, Any]:
    return {
        f"alice-cka-{i + 1}": {"spec": {"deadline": deadline} if deadline else {}, "status": s}
        for i, s in enumerate(statuses)
    }


def test_an_exam_from_creation_to_its_frozen_result() -> None:
    first = decide_exam(observed({}, T0))
    created = [a.body for a in first.actions if isinstance(a, CreateLab)]
    assert [b["metadata"]["name"] for b in created] == [f"alice-cka-{i}" for i in range(1, 5)]
    assert created[0]["spec"]["learner"] == LEARNER
    assert created[0]["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert first.status["phase"] == "Pending" and first.wake_at is None

    untouched = lab_status({"a": False, "b": False}, ["a", "b"])
    running = decide_exam(observed(labs_with([untouched] * 4), T0 + 30, first.status))
    assert running.status["phase"] == RUNNING
    assert running.status["deadline"] == iso(T0 + 30 + 3600)
    assert running.wake_at == T0 + 30 + 3600
    assert sum(isinstance(a, SetDeadline) for a in running.actions) == 4

    deadline = running.status["deadline"]
    solved = lab_status({"a": True, "b": True}, ["a", "b"], final=True)
    half = lab_status({"a": True, "b": False}, ["a", "b"], final=True)
    shortcut = lab_status({"a": True, "b": True}, ["a", "b"], guard_ok=False, final=True)
    at_end = labs_with([solved, half, shortcut, {**untouched, "final": True}], deadline)
    done = decide_exam(observed(at_end, T0 + 30 + 3600, running.status))
    assert done.status["phase"] == DONE
    assert [t["points"] for t in done.status["tasks"]] == [4.0, 3.0, 0.0, 0.0]
    assert done.status["result"] == "7/20 (35%)" and done.status["passed"] is False
    # A fix after the deadline changes nothing.
    fixed = labs_with([solved] * 4, deadline)
    assert decide_exam(observed(fixed, T0 + 4000, done.status)).status == done.status


def test_a_lab_that_does_not_freeze_is_scored_as_it_stands_after_the_grace() -> None:
    status = {"startedAt": iso(T0), "deadline": iso(T0 + 3600), "seed": 1}
    status["tasks"] = decide_exam(observed({}, T0)).status["tasks"]
    labs = labs_with([lab_status({"a": True}, ["a"])] * 4, iso(T0 + 3600))
    grading = decide_exam(observed(labs, T0 + 3600, status))
    assert grading.status["phase"] == "Grading"
    assert grading.wake_at == T0 + 3600 + GRACE_SECONDS
    done = decide_exam(observed(labs, T0 + 3600 + GRACE_SECONDS, grading.status))
    assert done.status["phase"] == DONE and done.status["passed"] is True


def test_one_exam_at_a_time_per_learner_and_bad_input_creates_nothing() -> None:
    older = OtherExam("alice-first", ("User", "alice", ""), iso(T0 - 60), finished=False)
    busy = decide_exam(replace(observed({}, T0), others=[older]))
    assert busy.status["phase"] == INVALID
    assert "is taking exam alice-first" in busy.status["conditions"][0]["message"]
    assert not any(isinstance(a, CreateLab) for a in busy.actions)
    finished = replace(older, finished=True)
    assert decide_exam(replace(observed({}, T0), others=[finished])).status["phase"] != INVALID

    unknown = replace(observed({}, T0), spec=spec(tasks=[{"scenario": "nope"}]))
    refused = decide_exam(unknown)
    assert refused.status["phase"] == INVALID
    assert refused.status["conditions"][0]["reason"] == "InvalidExam"
    assert not any(isinstance(a, CreateLab) for a in refused.actions)
    bad = decide_exam(replace(observed({}, T0), spec=spec(passingScore=0)))
    assert bad.status["conditions"][0]["message"].startswith("spec.passingScore")


def test_handing_in_early_moves_the_deadline_to_now() -> None:
    untouched = lab_status({"a": False}, ["a"])
    running = decide_exam(observed(labs_with([untouched] * 4), T0 + 30))
    submitted = replace(
        observed(labs_with([untouched] * 4), T0 + 90, running.status), spec=spec(submitted=True)
    )
    decision = decide_exam(submitted)
    assert decision.status["deadline"] == iso(T0 + 90) == decision.status["submittedAt"]
    assert sum(isinstance(a, SetDeadline) for a in decision.actions) == 4
    assert decision.status["phase"] == "Grading"


@pytest.mark.parametrize("path", sorted((LABS.parent / "exams").glob("*.yaml")), ids=str)
def test_the_shipped_exams_plan_against_the_catalog(path: Any) -> None:
    body = yaml.safe_load(path.read_text())
    spec = ExamSpec.model_validate(body["spec"])
    tasks = plan(body["metadata"]["name"], spec, CATALOG, 1)
    assert sum(t.weight for t in tasks) == 100  # points read as percent, as on the real exams
    assert 10 <= len(tasks) <= 20


def test_the_cli_builds_the_exam_from_a_file_or_tags_and_names_mistakes() -> None:
    from breakfix.cli.exams import exam_from
    from breakfix.cli.session import CliError

    cka = LABS.parent / "exams" / "cka-troubleshooting.yaml"
    body = exam_from(cka, [], None, 90, "alice", "alice-cka", None)
    assert body["metadata"]["name"] == "alice-cka"
    assert body["spec"]["learner"] == {"kind": "User", "name": "alice"}
    assert body["spec"]["timeLimitMinutes"] == 90 and len(body["spec"]["tasks"]) == 15
    sa = exam_from(None, ["cks"], 5, None, "system:serviceaccount:class:bob", None, 70)
    assert sa["spec"]["pick"] == {"tags": ["cks"], "count": 5}
    assert sa["spec"]["learner"] == {"kind": "ServiceAccount", "name": "bob", "namespace": "class"}
    with pytest.raises(CliError, match="who takes the exam"):
        exam_from(None, ["cks"], 5, None, None, None, None)
    with pytest.raises(CliError, match=r"spec\.passingScore"):
        exam_from(cka, [], None, None, "alice", None, 101)


def test_the_report_has_one_case_per_task_with_expected_and_found() -> None:
    from breakfix.exam.report import junit_suite, results

    untouched = lab_status({"a": False}, ["a"])
    running = decide_exam(observed(labs_with([untouched] * 4), T0 + 30))
    labs = labs_with([lab_status({"a": True}, ["a"]), untouched, untouched, untouched])
    done = decide_exam(observed(labs, T0 + 30 + 3600 + GRACE_SECONDS, running.status))
    exam = {"metadata": {"name": "alice-cka"}, "spec": spec(), "status": done.status}
    rendered = results(exam, labs)
    suite = junit_suite(rendered)
    assert [c.failure is None for c in suite.cases] == [True, False, False, False]
    assert suite.cases[0].name == "task 1: svc-selector-mismatch (4/4 points)"
    assert "a: expected: " in (suite.cases[1].failure or "")
    assert "found: a says so" in (suite.cases[1].failure or "")
    assert rendered["points"] == 4 and rendered["passed"] is False
