"""An exam's results for people and CI, from the Exam and its Labs. Pure.

One row per task with its points and why; under it every check the task holds, what it
expected (the check's description) beside what it found (its message), so a failed task
explains itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from breakfix.report import junit


def results(exam: Mapping[str, Any], labs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    status = exam.get("status") or {}
    tasks = []
    for task in status.get("tasks") or []:
        lab_status = (labs.get(task["lab"]) or {}).get("status") or {}
        tasks.append(
            {
                **{k: task.get(k) for k in ("lab", "scenario", "title", "weight", "points")},
                "note": task.get("note", ""),
                "task": lab_status.get("task", ""),
                "checks": [
                    {
                        "name": c.get("name"),
                        "expected": c.get("description", ""),
                        "found": c.get("message", ""),
                        "passed": bool(c.get("passed")),
                        "guard": bool(c.get("guard")),
                    }
                    for c in lab_status.get("checks") or []
                ],
            }
        )
    return {
        "exam": exam["metadata"]["name"],
        "learner": ((exam.get("spec") or {}).get("learner") or {}).get("name"),
        "phase": status.get("phase"),
        "points": status.get("points", 0),
        "maxPoints": status.get("maxPoints", 0),
        "percent": status.get("percent", 0),
        "passingScore": status.get("passingScore"),
        "passed": status.get("passed"),
        "startedAt": status.get("startedAt"),
        "deadline": status.get("deadline"),
        "timeUsedSeconds": status.get("timeUsedSeconds"),
        "tasks": tasks,
    }


def junit_suite(report: Mapping[str, Any]) -> junit.Suite:
    """One test case per task: it fails unless the task earned all its points."""
    cases = []
    for i, task in enumerate(report["tasks"], 1):
        failing = [c for c in task["checks"] if not c["passed"]]
        detail = "\n".join(
            f"{c['name']}: expected: {c['expected']} | found: {c['found']}" for c in failing
        )
        full = task["points"] == task["weight"]
        cases.append(
            junit.Case(
                name=f"task {i}: {task['scenario']} ({task['points']:g}/{task['weight']} points)",
                classname=f"breakfix.exam.{report['exam']}",
                failure=None if full else f"{task['note']}\n{detail}".strip(),
            )
        )
    return junit.Suite(name=f"exam {report['exam']}", cases=cases)


def table(report: Mapping[str, Any]) -> Table:
    verdict = {True: "passed", False: "not passed", None: "in progress"}[report["passed"]]
    out = Table(
        title=f"exam {report['exam']} ({report['learner']}): {report['points']:g}/"
        f"{report['maxPoints']} points, {report['percent']:g}% — {verdict} "
        f"(passing score {report['passingScore']}%)"
    )
    for column in ("#", "task", "points", "why"):
        out.add_column(column)
    for i, task in enumerate(report["tasks"], 1):
        out.add_row(str(i), task["scenario"], f"{task['points']:g}/{task['weight']}", task["note"])
    return out


def failed_checks(report: Mapping[str, Any]) -> Table:
    out = Table(title="what failed: expected and found")
    for column in ("#", "check", "expected", "found"):
        out.add_column(column)
    for i, task in enumerate(report["tasks"], 1):
        for check in task["checks"]:
            if not check["passed"]:
                out.add_row(str(i), check["name"], check["expected"], check["found"])
    return out
