"""`absent`: no selected object may match `expect` (with no `expect`: none may exist)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from breakfix.checks.assertion import match
from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import name_of
from breakfix.checks.snapshot import Need, Snapshot
from breakfix.checks.target import Target


class AbsentCheck(Target, CheckType):
    key: ClassVar[str] = "absent"
    # Whatever kind the check names: the catalog test asserts the operator may read those.
    reads: ClassVar[tuple[Reads, ...]] = ()

    expect: dict[str, Any] = Field(default_factory=dict)
    why: str | None = Field(
        None, description="Told to the learner when the check fails: why it must not exist."
    )

    def needs(self, namespace: str) -> list[Need]:
        return self.target_needs(namespace)

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        matching = [o for o in self.select(snapshot, namespace) if not match(self.expect, o)]
        if not matching:
            return Verdict(True, f"no {self.describe()}" + (" matching" if self.expect else ""))
        names = ", ".join(name_of(o) for o in matching[:3])
        why = f" ({self.why})" if self.why else ""
        return Verdict(
            False,
            f"{self.kind} {names} should not exist"
            + (" in this form" if self.expect else "")
            + why,
        )
