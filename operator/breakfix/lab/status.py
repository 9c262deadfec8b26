"""Computing a Lab's status from check results: pure functions, no cluster.

The status is rebuilt from scratch on every evaluation and compared with the last one written;
timestamps move only on transitions, so an unchanged cluster yields an identical status and no
write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from breakfix.checks.check import Check
from breakfix.checks.models import CheckResult
from breakfix.scenario.models import Hint

Status = dict[str, Any]

READY = "Ready"
SOLVED = "Solved"
EXPIRED = "TimeLimitExceeded"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


# Ready=False reasons that no amount of waiting will change: the Lab or Scenario must change.
TERMINAL_REASONS = frozenset(
    {
        "ScenarioNotFound",
        "ScenarioInvalid",
        "RenderFailed",
        "InvalidSpec",
        "ProvisioningFailed",
        "SymptomsNotObserved",
    }
)


def lab_condition(lab: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    """A condition of a whole Lab object as read from the API ({} when absent)."""
    return condition((lab or {}).get("status") or {}, type_) or {}


def ready_or_stuck(lab: dict[str, Any] | None) -> bool:
    """Waiting for Ready is over: it is True, or False for a reason waiting cannot fix."""
    ready = lab_condition(lab, READY)
    return ready.get("status") == "True" or ready.get("reason") in TERMINAL_REASONS


def condition(status: Status, type_: str) -> dict[str, Any] | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    state: str,
    reason: str,
    message: str,
    generation: int,
    now: float,
) -> list[dict[str, Any]]:
    """metav1.Condition semantics: lastTransitionTime changes only when `status` does."""
    previous = next((c for c in conditions if c.get("type") == type_), None)
    transition = (
        previous["lastTransitionTime"]
        if previous and previous.get("status") == state and previous.get("lastTransitionTime")
        else iso(now)
    )
    new = {
        "type": type_,
        "status": state,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": transition,
    }
    return (
        [c for c in conditions if c.get("type") != type_] + [new]
        if previous is None
        else [new if c.get("type") == type_ else c for c in conditions]
    )


def check_entries(
    checks: list[Check], results: list[CheckResult], previous: list[dict[str, Any]], now: float
) -> list[dict[str, Any]]:
    before = {c.get("name"): c for c in previous}
    entries = []
    for check, result in zip(checks, results, strict=True):
        old = before.get(check.name)
        changed = old is None or old.get("passed") != result.passed
        entries.append(
            {
                "name": check.name,
                "description": check.description,
                "passed": result.passed,
                "message": result.message,
                "guard": check.guard,
                "lastTransitionTime": iso(now) if changed else old["lastTransitionTime"],  # type: ignore[index]
            }
        )
    return entries


def score(total: int, passed: int, hints: list[Hint], solved_in_time: bool | None) -> int:
    """100 for a lab solved without hints; each revealed hint costs its points; partial credit
    is proportional to the checks passed. A lab first solved after its time limit scores 0."""
    if total == 0 or solved_in_time is False:
        return 0
    base = round(100 * passed / total)
    return max(0, base - sum(h.cost for h in hints))


@dataclass(frozen=True)
class Evaluation:
    """Inputs to one status computation, gathered by the controller."""

    generation: int
    now: float
    checks: list[Check]
    results: list[CheckResult]
    revealed: list[Hint]
    time_limit_seconds: int | None


def graded_status(previous: Status, ev: Evaluation) -> Status:
    """The status of a Ready lab after its checks were evaluated."""
    status = dict(previous)
    entries = check_entries(ev.checks, ev.results, previous.get("checks") or [], ev.now)
    passed = sum(1 for e in entries if e["passed"])
    total = len(entries)
    solved = total > 0 and passed == total
    was_solved = (condition(previous, SOLVED) or {}).get("status") == "True"

    first = previous.get("firstSolvedAt")
    if solved and not first:
        first = iso(ev.now)
    regressions = int(previous.get("regressions", 0)) + (1 if was_solved and not solved else 0)
    started = previous.get("startedAt") or iso(ev.now)

    in_time: bool | None = None
    if first and ev.time_limit_seconds:
        in_time = parse_iso(first) - parse_iso(started) <= ev.time_limit_seconds
    expired = (
        bool(ev.time_limit_seconds)
        and not first
        and ev.now - parse_iso(started) > (ev.time_limit_seconds or 0)
    )

    failing = [e for e in entries if not e["passed"]]
    conditions = list(previous.get("conditions") or [])
    if solved:
        conditions = set_condition(
            conditions,
            SOLVED,
            "True",
            "AllChecksPassed",
            f"all {total} checks pass",
            ev.generation,
            ev.now,
        )
    else:
        reason = "ShortcutDetected" if any(e["guard"] for e in failing) else "ChecksFailing"
        conditions = set_condition(
            conditions,
            SOLVED,
            "False",
            reason,
            f"{len(failing)} of {total} checks failing: {failing[0]['name']}: "
            f"{failing[0]['message']}",
            ev.generation,
            ev.now,
        )
    if ev.time_limit_seconds:
        conditions = set_condition(
            conditions,
            EXPIRED,
            "True" if expired else "False",
            "TimeLimitExceeded" if expired else "WithinTimeLimit",
            f"time limit {ev.time_limit_seconds}s",
            ev.generation,
            ev.now,
        )

    status.update(
        {
            "checks": entries,
            "passed": passed,
            "total": total,
            "progress": f"{passed}/{total}",
            "hints": [h.text for h in ev.revealed],
            "hintsUsed": len(ev.revealed),
            "score": score(total, passed, ev.revealed, in_time),
            "startedAt": started,
            "regressions": regressions,
            "conditions": conditions,
        }
    )
    if first:
        status["firstSolvedAt"] = first
        status["timeToSolveSeconds"] = int(parse_iso(first) - parse_iso(started))
    return status


def events_between(old: Status, new: Status) -> list[tuple[str, str, str]]:
    """Learner-visible transitions as (type, reason, message) Events, oldest concern first."""
    out: list[tuple[str, str, str]] = []
    before = {c["name"]: c for c in old.get("checks") or []}
    for entry in new.get("checks") or []:
        prev = before.get(entry["name"])
        if prev is None or prev.get("passed") == entry["passed"]:
            continue
        if entry["passed"]:
            out.append(("Normal", "CheckPassed", f"{entry['name']}: {entry['message']}"))
        else:
            out.append(("Warning", "CheckFailed", f"{entry['name']}: {entry['message']}"))
    old_solved = (condition(old, SOLVED) or {}).get("status")
    new_solved = (condition(new, SOLVED) or {}).get("status")
    if new_solved == "True" and old_solved != "True":
        out.append(
            (
                "Normal",
                "Solved",
                f"all checks pass (score {new.get('score')}, "
                f"{new.get('timeToSolveSeconds', 0)}s to first solve)",
            )
        )
    elif old_solved == "True" and new_solved == "False":
        out.append(("Warning", "Regressed", condition(new, SOLVED)["message"]))  # type: ignore[index]
    return out
