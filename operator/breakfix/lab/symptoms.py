"""Is the lab broken as intended? The Ready condition from the symptoms' results: pure."""

from __future__ import annotations

from dataclasses import dataclass

from breakfix.checks.check import Check
from breakfix.checks.models import CheckResult
from breakfix.lab import reasons as r
from breakfix.lab.actions import PostEvent
from breakfix.lab.conditions import Status, condition, iso, parse_iso, set_condition


@dataclass(frozen=True)
class Observation:
    generation: int
    now: float
    namespace: str
    symptoms: list[Check]
    results: list[CheckResult]
    checks_watched: int
    symptoms_seconds: int
    safety_seconds: float


def next_recheck(results: list[CheckResult], default: float) -> float:
    times = [x.recheck_at for x in results if x.recheck_at is not None]
    return min([default, *times])


def symptoms_status(status: Status, ob: Observation) -> tuple[Status, list[PostEvent], float]:
    """The status after the symptoms were evaluated, the Events to post, and when to look
    again. Ready turns True once every symptom holds; after `symptoms_seconds` without them
    it is False for good (SymptomsNotObserved) until they appear."""
    status = dict(status)
    events: list[PostEvent] = []
    status["symptoms"] = [
        {"name": c.name, "description": c.description, "holds": x.passed, "message": x.message}
        for c, x in zip(ob.symptoms, ob.results, strict=True)
    ]
    now = ob.now
    conditions = status.get("conditions") or []
    missing = [x for x in ob.results if not x.passed]
    # Only a symptom seen absent counts against the deadline; one that could not be read (the
    # API server slow under load) is waited for.
    absent = [x for x in missing if not x.unknown]
    deadline = parse_iso(status["provisionedAt"]) + ob.symptoms_seconds
    wake = next_recheck(ob.results, now + ob.safety_seconds)
    if not missing:
        message = (
            f"scenario deployed in namespace {ob.namespace}; "
            f"{len(ob.results)} symptoms confirmed; {ob.checks_watched} checks watched"
        )
        conditions = set_condition(
            conditions, r.READY, "True", r.SYMPTOMS_CONFIRMED, message, ob.generation, now
        )
        status["startedAt"] = iso(now)
        events.append(PostEvent("Normal", r.PROVISIONED, message))
    elif now >= deadline and absent:
        message = (
            f"after {ob.symptoms_seconds}s the scenario is still not "
            f"broken as intended: {absent[0].name}: {absent[0].message}"
        )
        if (condition(status, r.READY) or {}).get("reason") != r.SYMPTOMS_NOT_OBSERVED:
            events.append(PostEvent("Warning", r.SYMPTOMS_NOT_OBSERVED, message))
        conditions = set_condition(
            conditions, r.READY, "False", r.SYMPTOMS_NOT_OBSERVED, message, ob.generation, now
        )
    else:
        conditions = set_condition(
            conditions,
            r.READY,
            "False",
            r.WAITING_FOR_SYMPTOMS,
            f"{len(missing)} of {len(ob.results)} symptoms not yet observed: "
            f"{missing[0].name}: {missing[0].message}",
            ob.generation,
            now,
        )
        if deadline > now:
            wake = min(wake, deadline)
    if not any(c["type"] == r.SOLVED for c in conditions) or missing:
        conditions = set_condition(
            conditions,
            r.SOLVED,
            "Unknown",
            r.NOT_READY,
            "the lab is not ready yet",
            ob.generation,
            now,
        )
    status["conditions"] = conditions
    return status, events, wake
