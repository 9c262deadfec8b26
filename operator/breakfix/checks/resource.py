"""`resource`: objects must exist and match `expect`, a partial object tree (see assertion.py)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from breakfix.checks.assertion import match
from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import name_of
from breakfix.checks.snapshot import Need, Snapshot
from breakfix.checks.target import Target

MAX_KEY = 1024


class ResourceCheck(Target, CheckType):
    key: ClassVar[str] = "resource"
    # Whatever kind the check names: the catalog test asserts the operator may read those.
    reads: ClassVar[tuple[Reads, ...]] = ()

    expect: dict[str, Any] = Field(default_factory=dict)
    match: Literal["all", "any"] = Field(
        "all", description="With a selector: every selected object must match, or at least one."
    )
    why: str | None = Field(
        None,
        description="Told to the learner when the check fails: what the expectation means, so "
        "a rejected shortcut teaches something.",
    )

    @field_validator("expect")
    @classmethod
    def _keys_fit_a_scenario(cls, expect: dict[str, Any]) -> dict[str, Any]:
        # A Scenario is applied server-side, as YAML: the API server refuses a mapping key
        # longer than 1024 characters, and the whole catalog would fail to install.
        def long_keys(tree: Any) -> list[str]:
            if isinstance(tree, dict):
                return [k for k in tree if len(k) > MAX_KEY] + [
                    k for v in tree.values() for k in long_keys(v)
                ]
            if isinstance(tree, list):
                return [k for v in tree for k in long_keys(v)]
            return []

        if found := long_keys(expect):
            raise ValueError(
                f"an expectation of {len(found[0])} characters ({found[0][:60]}...): at most "
                f"{MAX_KEY}; the API server refuses longer keys"
            )
        return expect

    def needs(self, namespace: str) -> list[Need]:
        return self.target_needs(namespace)

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        objs = self.select(snapshot, namespace)
        if not objs:
            what = f"no {self.kind} named {self.name}" if self.name else f"no {self.describe()}"
            why = f" ({self.why})" if self.why else ""
            return Verdict(False, what + self.where(namespace) + why)
        verdicts = [(o, match(self.expect, o)) for o in objs]
        bad = [(o, problems) for o, problems in verdicts if problems]
        ok = not bad if self.match == "all" else len(bad) < len(verdicts)
        if ok:
            names = ", ".join(name_of(o) for o, p in verdicts if not p)
            return Verdict(True, f"{self.kind} {names} as expected")
        obj, problems = bad[0]
        extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        why = f" ({self.why})" if self.why else ""
        return Verdict(False, f"{self.kind} {name_of(obj)}: {problems[0]}{extra}{why}")
