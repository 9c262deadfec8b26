"""A task's points from its Lab's status, and the exam's total. Pure.

Partial credit counts the checks the task asked for: those failing when the lab became Ready
(`status.asked`). A check that already passed then (a backend left running, a Service kept)
is no credit for doing nothing, but breaking it costs the task: so does a failing guard (a
shortcut an examiner would refuse). Revealed hints cost their points, as on a single lab."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskScore:
    points: float
    asked: int
    passed: int
    note: str


def task_score(weight: int, status: Mapping[str, Any] | None) -> TaskScore:
    checks = list((status or {}).get("checks") or [])
    if not checks:
        return TaskScore(0.0, 0, 0, "not graded: the lab never became Ready")
    asked_names = set(status.get("asked") or []) if status else set()
    outcome = [c for c in checks if not c.get("guard")]
    asked = [c for c in outcome if c["name"] in asked_names] or outcome
    passed = sum(1 for c in asked if c.get("passed"))
    guard = next((c for c in checks if c.get("guard") and not c.get("passed")), None)
    if guard is not None:
        return TaskScore(0.0, len(asked), passed, f"0: {guard['name']}: {guard.get('message')}")
    broken = next(
        (c for c in outcome if c not in asked and not c.get("passed")),
        None,
    )
    if broken is not None:
        return TaskScore(
            0.0,
            len(asked),
            passed,
            f"0: {broken['name']} passed before and fails now: {broken.get('message')}",
        )
    cost = int((status or {}).get("hintCost") or 0)
    fraction = (passed / len(asked)) * max(0, 100 - cost) / 100 if asked else 0.0
    points = round(weight * fraction, 2)
    note = "all checks pass" if passed == len(asked) else f"{passed} of {len(asked)} checks pass"
    if cost:
        note += f", -{cost}% for hints"
    return TaskScore(points, len(asked), passed, note)


def percent(points: float, max_points: int) -> float:
    return round(100 * points / max_points, 1) if max_points else 0.0
