"""Computing a Lab's status from check results: pure functions, no cluster.

The status is rebuilt from scratch on every evaluation and compared with the last one written;
timestamps move only on transitions, so an unchanged cluster yields an identical status and no
write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from breakfix.checks.check import Check
from breakfix.checks.models import CheckResult
from breakfix.lab import reasons as r
from breakfix.lab.conditions import Status, condition, iso, parse_iso, set_condition
from breakfix.scenario.models import Hint

# Fields that describe one provisioning; a reset or a lost namespace clears them.
PROGRESS_FIELDS = (
    "provisioned",
    "provisionedAt",
    "observedReset",
    "clusterObjects",
    "symptoms",
    "checks",
    "passed",
    "total",
    "progress",
    "score",
    "startedAt",
    "firstSolvedAt",
    "timeToSolveSeconds",
    "regressions",
    "nodeChanges",
    "asked",
    "unheldGuards",
    "final",
    "finalAt",
)


def not_ready(
    status: Status, generation: int, reason: str, message: str, now: float, solved: str
) -> Status:
    """Ready=False for `reason`, and Solved=Unknown with the message `solved`."""
    conditions = set_condition(
        status.get("conditions") or [], r.READY, "False", reason, message, generation, now
    )
    conditions = set_condition(
        conditions, r.SOLVED, "Unknown", r.NOT_READY, solved, generation, now
    )
    return {**status, "conditions": conditions}


def cleared(status: Status, generation: int, message: str, now: float) -> Status:
    """The status of a lab whose namespace is being deleted to provision it again."""
    kept = {k: v for k, v in status.items() if k not in PROGRESS_FIELDS}
    return not_ready(kept, generation, r.RESETTING, message, now, "the lab is not ready")


def check_entries(
    checks: list[Check], results: list[CheckResult], previous: list[dict[str, Any]], now: float
) -> list[dict[str, Any]]:
    before = {c.get("name"): c for c in previous}
    entries = []
    for check, result in zip(checks, results, strict=True):
        old = before.get(check.name)
        if result.unknown and old is not None:
            # Not read this time: the last verdict stands (an API blip neither solves a lab
            # nor takes a solve away, and a deadline freezes the last verdict known).
            entries.append(old)
            continue
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
    was_solved = (condition(previous, r.SOLVED) or {}).get("status") == "True"

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
    # A guard the broken state fails by design (the task asks for what it checks) says nothing
    # of a shortcut until it has held once; the reason is ShortcutDetected only for one that
    # held and fails again.
    first_grading = "asked" not in previous
    was_unheld = (
        {e["name"] for e in failing if e["guard"]}
        if first_grading
        else set(previous.get("unheldGuards") or [])
    )
    unheld = sorted(e["name"] for e in failing if e["guard"] and e["name"] in was_unheld)
    conditions = list(previous.get("conditions") or [])
    if solved:
        conditions = set_condition(
            conditions,
            r.SOLVED,
            "True",
            r.ALL_CHECKS_PASSED,
            f"all {total} checks pass",
            ev.generation,
            ev.now,
        )
    else:
        shortcut = any(e["guard"] and e["name"] not in unheld for e in failing)
        reason = r.SHORTCUT_DETECTED if shortcut else r.CHECKS_FAILING
        conditions = set_condition(
            conditions,
            r.SOLVED,
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
            r.EXPIRED,
            "True" if expired else "False",
            r.TIME_LIMIT_EXCEEDED if expired else r.WITHIN_TIME_LIMIT,
            f"time limit {ev.time_limit_seconds}s",
            ev.generation,
            ev.now,
        )

    if unheld or previous.get("unheldGuards"):
        status["unheldGuards"] = unheld
    if first_grading:
        # What the task asks to fix: the checks failing in the lab's first grading. An exam's
        # partial credit counts these, not those that passed before anything was done.
        status["asked"] = [e["name"] for e in entries if not e["passed"] and not e["guard"]]
    status.update(
        {
            "checks": entries,
            "passed": passed,
            "total": total,
            "progress": f"{passed}/{total}",
            "hints": [h.text for h in ev.revealed],
            "hintsUsed": len(ev.revealed),
            "hintCost": sum(h.cost for h in ev.revealed),
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
            out.append(("Normal", r.CHECK_PASSED, f"{entry['name']}: {entry['message']}"))
        else:
            out.append(("Warning", r.CHECK_FAILED, f"{entry['name']}: {entry['message']}"))
    old_solved = (condition(old, r.SOLVED) or {}).get("status")
    new_solved = (condition(new, r.SOLVED) or {}).get("status")
    if new_solved == "True" and old_solved != "True":
        out.append(
            (
                "Normal",
                r.SOLVED_EVENT,
                f"all checks pass (score {new.get('score')}, "
                f"{new.get('timeToSolveSeconds', 0)}s to first solve)",
            )
        )
    elif old_solved == "True" and new_solved == "False":
        out.append(("Warning", r.REGRESSED, condition(new, r.SOLVED)["message"]))  # type: ignore[index]
    return out
