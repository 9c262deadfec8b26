"""The dashboard's pages as data: pure functions of the board and the time. Templates only lay
them out, so what a page shows (and never shows) is decided and tested here."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from breakfix.exam.decide import EXAM_LABEL
from breakfix.exam.report import results
from breakfix.lab.conditions import condition, parse_iso

Obj = dict[str, Any]


@dataclass(frozen=True)
class Filters:
    learner: str = ""
    tag: str = ""
    state: str = ""


@dataclass(frozen=True)
class LabRow:
    name: str
    learner: str
    scenario: str
    title: str
    exam: str
    state: str
    passed: int
    total: int
    score: int
    hints: int
    time: str
    stuck: bool
    failing: str


@dataclass(frozen=True)
class ExamRow:
    name: str
    learner: str
    phase: str
    result: str
    passed: bool | None
    left: str


@dataclass
class ScenarioStats:
    name: str
    title: str
    started: int = 0
    solved: int = 0
    median_solve: str = "-"
    hints_used: int = 0
    most_failing: str = "-"
    failing_for: str = "-"
    labs: list[LabRow] = field(default_factory=list)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def lab_state(lab: Mapping[str, Any]) -> str:
    status = lab.get("status") or {}
    if status.get("final"):
        return "Final"
    if (condition(dict(status), "Solved") or {}).get("status") == "True":
        return "Solved"
    ready = condition(dict(status), "Ready") or {}
    if ready.get("status") == "True":
        return "Working"
    return ready.get("reason") or "Pending"


def learner_name(obj: Mapping[str, Any]) -> str:
    learner = (obj.get("spec") or {}).get("learner") or {}
    return str(learner.get("name") or "-")


def lab_row(
    lab: Mapping[str, Any], scenarios: Mapping[str, Obj], now: float, stuck_after: float
) -> LabRow:
    status = lab.get("status") or {}
    spec = lab.get("spec") or {}
    state = lab_state(lab)
    started = status.get("startedAt")
    if status.get("timeToSolveSeconds") is not None:
        time = duration(status["timeToSolveSeconds"])
    elif started:
        end = parse_iso(status["finalAt"]) if status.get("finalAt") else now
        time = duration(end - parse_iso(started))
    else:
        time = "-"
    failing = [c for c in status.get("checks") or [] if not c.get("passed")]
    # Stuck: working on it, and nothing has changed for a check in `stuck_after` seconds.
    moments = [
        parse_iso(c["lastTransitionTime"])
        for c in status.get("checks") or []
        if c.get("lastTransitionTime")
    ]
    last = max(moments, default=parse_iso(started) if started else now)
    scenario = str(spec.get("scenario", ""))
    return LabRow(
        name=lab["metadata"]["name"],
        learner=learner_name(lab),
        scenario=scenario,
        title=str(((scenarios.get(scenario) or {}).get("spec") or {}).get("title") or scenario),
        exam=(lab["metadata"].get("labels") or {}).get(EXAM_LABEL, ""),
        state=state,
        passed=int(status.get("passed", 0)),
        total=int(status.get("total", 0)),
        score=int(status.get("score", 0)),
        hints=int(status.get("hintsUsed", 0)),
        time=time,
        stuck=state == "Working" and now - last > stuck_after,
        failing=f"{failing[0]['name']}: {failing[0].get('message', '')}" if failing else "",
    )


def class_view(
    labs: Mapping[str, Obj],
    exams: Mapping[str, Obj],
    scenarios: Mapping[str, Obj],
    now: float,
    filters: Filters = Filters(),
    stuck_after: float = 600,
) -> tuple[list[LabRow], list[ExamRow]]:
    rows = []
    for name in sorted(labs):
        lab = labs[name]
        row = lab_row(lab, scenarios, now, stuck_after)
        tags = ((scenarios.get(row.scenario) or {}).get("spec") or {}).get("tags") or []
        if filters.learner and filters.learner != row.learner:
            continue
        if filters.tag and filters.tag not in tags:
            continue
        if filters.state and filters.state.lower() != row.state.lower():
            continue
        rows.append(row)
    exam_rows = [
        exam_row(exams[name], now)
        for name in sorted(exams)
        if not filters.learner or learner_name(exams[name]) == filters.learner
    ]
    return rows, exam_rows


def exam_row(exam: Mapping[str, Any], now: float) -> ExamRow:
    status = exam.get("status") or {}
    deadline = status.get("deadline")
    if status.get("phase") == "Finished" or not deadline:
        left = "-"
    else:
        left = duration(parse_iso(deadline) - now)
    passed = status.get("passed")
    return ExamRow(
        name=exam["metadata"]["name"],
        learner=learner_name(exam),
        phase=str(status.get("phase") or "Pending"),
        result=str(status.get("result") or "-"),
        passed=None if passed is None else bool(passed),
        left=left,
    )


def lab_detail(lab: Mapping[str, Any]) -> dict[str, Any]:
    """One lab as its learner sees it: the rendered task, each check, the hints revealed. The
    Lab's status holds nothing more (unrevealed hints and the solution stay in the Scenario)."""
    status = lab.get("status") or {}
    return {
        "name": lab["metadata"]["name"],
        "learner": learner_name(lab),
        "scenario": (lab.get("spec") or {}).get("scenario"),
        "state": lab_state(lab),
        "task": status.get("task", ""),
        "checks": status.get("checks") or [],
        "hints": status.get("hints") or [],
        "score": status.get("score", 0),
        "progress": status.get("progress", "-"),
        "conditions": status.get("conditions") or [],
        "namespace": status.get("namespace", ""),
    }


def exam_detail(exam: Mapping[str, Any], labs: Mapping[str, Obj]) -> dict[str, Any]:
    mine = {
        n: lab
        for n, lab in labs.items()
        if (lab["metadata"].get("labels") or {}).get(EXAM_LABEL) == exam["metadata"]["name"]
    }
    return results(exam, mine)


def scenario_view(
    name: str, labs: Mapping[str, Obj], scenarios: Mapping[str, Obj], now: float
) -> ScenarioStats:
    spec = (scenarios.get(name) or {}).get("spec") or {}
    stats = ScenarioStats(name=name, title=str(spec.get("title") or name))
    mine = [lab for lab in labs.values() if (lab.get("spec") or {}).get("scenario") == name]
    solve_times = []
    failing: Counter[str] = Counter()
    failing_since: dict[str, list[float]] = {}
    for lab in mine:
        status = lab.get("status") or {}
        stats.started += 1 if status.get("startedAt") else 0
        if status.get("timeToSolveSeconds") is not None:
            stats.solved += 1
            solve_times.append(float(status["timeToSolveSeconds"]))
        stats.hints_used += int(status.get("hintsUsed", 0))
        for check in status.get("checks") or []:
            if not check.get("passed"):
                failing[check["name"]] += 1
                since = check.get("lastTransitionTime")
                if since:
                    failing_since.setdefault(check["name"], []).append(now - parse_iso(since))
        stats.labs.append(lab_row(lab, scenarios, now, 600))
    if solve_times:
        stats.median_solve = duration(statistics.median(solve_times))
    if failing:
        check, count = failing.most_common(1)[0]
        stats.most_failing = f"{check} (failing in {count} of {len(mine)})"
        if failing_since.get(check):
            stats.failing_for = duration(statistics.median(failing_since[check]))
    return stats
