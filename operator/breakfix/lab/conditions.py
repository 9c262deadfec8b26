"""metav1.Condition handling on a Lab's status, and the timestamps it uses: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from breakfix.lab.reasons import READY, TERMINAL_REASONS

Status = dict[str, Any]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def condition(status: Status, type_: str) -> dict[str, Any] | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def is_true(status: Status, type_: str) -> bool:
    return (condition(status, type_) or {}).get("status") == "True"


def lab_condition(lab: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    """A condition of a whole Lab object as read from the API ({} when absent)."""
    return condition((lab or {}).get("status") or {}, type_) or {}


def ready_or_stuck(lab: dict[str, Any] | None) -> bool:
    """Waiting for Ready is over: it is True, or False for a reason waiting cannot fix."""
    ready = lab_condition(lab, READY)
    return ready.get("status") == "True" or ready.get("reason") in TERMINAL_REASONS


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
