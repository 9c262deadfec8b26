"""The reconcile of one Exam as a pure function, like lab/decide.py: what was observed in, the
new status, the actions and when to look again out.

An exam plans its tasks once (kept in its status, so a catalog changed later does not change a
running exam), creates one Lab per task owned by the Exam, starts one clock when every lab is
Ready, gives each Lab that deadline (the Lab grades itself one last time then, and freezes),
and once every lab is final, or a minute after the deadline, sums the points. A Finished exam
never changes again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from breakfix import GROUP, VERSION
from breakfix.exam.models import ExamSpec
from breakfix.exam.plan import PlanError, plan
from breakfix.exam.score import percent, task_score
from breakfix.lab.actions import PostEvent
from breakfix.lab.conditions import Status, condition, iso, parse_iso, set_condition
from breakfix.lab.decide import first_error

EXAM_LABEL = f"{GROUP}/exam"
# How long after the deadline to wait for a lab that has not frozen itself (its operator was
# busy or restarting) before it is scored as it stands.
GRACE_SECONDS = 60.0

READY, FINISHED = "Ready", "Finished"
PENDING, RUNNING, GRADING, DONE, INVALID = "Pending", "Running", "Grading", "Finished", "Invalid"


def exam_signal(exam: str) -> str:
    """An exam's key in the labs' wake-up table: no Lab name holds a colon."""
    return f"exam:{exam}"


@dataclass(frozen=True)
class OtherExam:
    name: str
    learner: tuple[str, str, str]
    created: str
    finished: bool


@dataclass(frozen=True)
class ExamObserved:
    name: str
    uid: str
    generation: int
    created: str
    spec: Mapping[str, Any]
    status: Status
    scenarios: Mapping[str, Any]
    labs: Mapping[str, Mapping[str, Any]]
    """This exam's Labs by name, as the watch cache has them."""
    now: float
    new_seed: int
    others: Sequence[OtherExam] = field(default_factory=tuple)


@dataclass(frozen=True)
class CreateLab:
    body: dict[str, Any]


@dataclass(frozen=True)
class SetDeadline:
    lab: str
    deadline: str


ExamAction = CreateLab | SetDeadline | PostEvent


@dataclass(frozen=True)
class ExamDecision:
    status: Status
    actions: list[ExamAction]
    wake_at: float | None


def decide_exam(seen: ExamObserved) -> ExamDecision:
    status: Status = dict(seen.status)
    if status.get("phase") == DONE:
        return ExamDecision(status, [], None)
    try:
        spec = ExamSpec.model_validate(dict(seen.spec))
    except ValidationError as exc:
        return _invalid(seen, status, "InvalidSpec", f"spec.{first_error(exc)}")
    seed = status.get("seed")
    if seed is None:
        seed = spec.seed if spec.seed is not None else seen.new_seed
    status["seed"] = seed
    tasks: list[dict[str, Any]] = [dict(t) for t in status.get("tasks") or []]
    actions: list[ExamAction] = []
    if not tasks:
        busy = _learner_busy(seen, spec)
        if busy:
            return _invalid(seen, status, "LearnerBusy", busy)
        try:
            planned = plan(seen.name, spec, seen.scenarios, int(seed))
        except PlanError as exc:
            return _invalid(seen, status, "InvalidExam", str(exc))
        tasks = [
            {
                "lab": t.lab,
                "scenario": t.scenario,
                "title": t.title,
                "weight": t.weight,
                "seed": t.seed,
            }
            for t in planned
        ]
        actions.append(
            PostEvent("Normal", "Planned", f"{len(tasks)} tasks, {spec.time_limit_minutes} minutes")
        )
    for task in tasks:
        if task["lab"] not in seen.labs:
            actions.append(CreateLab(lab_body(seen, spec, task)))

    ready = [t for t in tasks if _lab_ready(seen.labs.get(t["lab"]))]
    conditions = list(status.get("conditions") or [])
    if len(ready) == len(tasks):
        conditions = set_condition(
            conditions, READY, "True", "LabsReady", f"all {len(tasks)} labs are Ready",
            seen.generation, seen.now,
        )  # fmt: skip
        if not status.get("startedAt"):
            status["startedAt"] = iso(seen.now)
            status["deadline"] = iso(seen.now + spec.time_limit_minutes * 60)
            actions.append(
                PostEvent("Normal", "Started", f"the clock runs until {status['deadline']}")
            )
    elif not status.get("startedAt"):
        waiting = [t["lab"] for t in tasks if t not in ready]
        conditions = set_condition(
            conditions, READY, "False", "LabsStarting",
            f"{len(ready)} of {len(tasks)} labs Ready; waiting for {', '.join(waiting[:3])}",
            seen.generation, seen.now,
        )  # fmt: skip

    if spec.submitted and status.get("deadline") and not status.get("submittedAt"):
        # Handed in early: the clock stops now, for every task.
        if seen.now < parse_iso(status["deadline"]):
            status["deadline"] = iso(seen.now)
        status["submittedAt"] = iso(seen.now)
        actions.append(PostEvent("Normal", "Submitted", "handed in: grading stops now"))
    deadline = parse_iso(status["deadline"]) if status.get("deadline") else None
    if deadline is not None:
        for task in tasks:
            lab = seen.labs.get(task["lab"])
            if lab is not None and (lab.get("spec") or {}).get("deadline") != status["deadline"]:
                actions.append(SetDeadline(task["lab"], status["deadline"]))

    points = 0.0
    for task in tasks:
        lab = seen.labs.get(task["lab"])
        lab_status = (lab or {}).get("status") or {}
        scored = task_score(int(task["weight"]), lab_status)
        task.update(
            ready=_lab_ready(lab),
            asked=scored.asked,
            passed=scored.passed,
            points=scored.points,
            note=scored.note,
        )
        points += scored.points
    max_points = sum(int(t["weight"]) for t in tasks)
    points = round(points, 2)
    status.update(
        tasks=tasks,
        points=points,
        maxPoints=max_points,
        percent=percent(points, max_points),
        result=f"{points:g}/{max_points} ({percent(points, max_points):g}%)",
        passingScore=spec.passing_score,
    )

    wake: float | None = None
    if deadline is None:
        status["phase"] = PENDING
    elif seen.now < deadline:
        status["phase"] = RUNNING
        wake = deadline
    else:
        final = all(
            ((seen.labs.get(t["lab"]) or {}).get("status") or {}).get("final") for t in tasks
        )
        if final or seen.now >= deadline + GRACE_SECONDS:
            status["phase"] = DONE
            status["finishedAt"] = iso(seen.now)
            status["passed"] = status["percent"] >= spec.passing_score
            status["timeUsedSeconds"] = _time_used(seen, tasks, status, deadline)
            verdict = "passed" if status["passed"] else "not passed"
            message = f"{status['result']}, {verdict} (passing score {spec.passing_score}%)"
            conditions = set_condition(
                conditions, FINISHED, "True", "DeadlineReached", message,
                seen.generation, seen.now,
            )  # fmt: skip
            actions.append(PostEvent("Normal", "Finished", message))
        else:
            status["phase"] = GRADING
            wake = deadline + GRACE_SECONDS
    if status["phase"] != DONE:
        conditions = set_condition(
            conditions, FINISHED, "False", "InProgress",
            f"{status['result']} so far", seen.generation, seen.now,
        )  # fmt: skip
    status["conditions"] = conditions
    return ExamDecision(status, actions, wake)


def lab_body(seen: ExamObserved, spec: ExamSpec, task: Mapping[str, Any]) -> dict[str, Any]:
    learner = spec.learner.model_dump(exclude_none=True)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Lab",
        "metadata": {
            "name": task["lab"],
            "labels": {EXAM_LABEL: seen.name},
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Exam",
                    "name": seen.name,
                    "uid": seen.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"scenario": task["scenario"], "seed": task["seed"], "learner": learner},
    }


def _lab_ready(lab: Mapping[str, Any] | None) -> bool:
    ready = condition(dict((lab or {}).get("status") or {}), READY) or {}
    return ready.get("status") == "True"


def _time_used(
    seen: ExamObserved, tasks: list[dict[str, Any]], status: Status, deadline: float
) -> int:
    """Until the last task was first solved when every one was, else the whole time."""
    started = parse_iso(status["startedAt"])
    solved = [
        ((seen.labs.get(t["lab"]) or {}).get("status") or {}).get("firstSolvedAt") for t in tasks
    ]
    end = deadline
    if solved and all(solved):
        end = min(deadline, max(parse_iso(s) for s in solved if s))
    return int(end - started)


def _learner_busy(seen: ExamObserved, spec: ExamSpec) -> str | None:
    me = (spec.learner.kind, spec.learner.name, spec.learner.namespace or "")
    for other in seen.others:
        if other.finished or other.learner != me:
            continue
        # The older exam goes ahead; two created in the same second, the first by name.
        if (other.created, other.name) < (seen.created, seen.name):
            return (
                f"spec.learner: {spec.learner.kind} {spec.learner.name} is taking exam "
                f"{other.name}; one exam at a time per learner"
            )
    return None


def _invalid(seen: ExamObserved, status: Status, reason: str, message: str) -> ExamDecision:
    before = condition(status, READY) or {}
    status["phase"] = INVALID
    status["conditions"] = set_condition(
        list(status.get("conditions") or []), READY, "False", reason, message,
        seen.generation, seen.now,
    )  # fmt: skip
    actions: list[ExamAction] = []
    if before.get("reason") != reason or before.get("message") != message:
        actions.append(PostEvent("Warning", reason, message))
    return ExamDecision(status, actions, None)
