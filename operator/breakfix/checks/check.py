"""One named check, as written in a scenario: a header and exactly one typed body.

The body's type is the key it sits under (`podsReady: {...}`), looked up in the registry; a
check is parsed, its needs are listed and it is evaluated through the `CheckType` interface, so
nothing here knows any particular type.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import Field, ModelWrapValidatorHandler, PrivateAttr, ValidationError, model_validator
from pydantic_core import InitErrorDetails

from breakfix.checks.check_type import INFORMER_SETTLE_STEPS, CheckType
from breakfix.checks.models import NAME_PATTERN, CheckResult, Model
from breakfix.checks.registry import BY_KEY
from breakfix.checks.snapshot import Need, Snapshot


class Check(Model):
    """One named check: `name`, `description`, `guard`, and exactly one of the registered
    check types under its key."""

    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    description: str = Field(min_length=1)
    guard: bool = Field(
        False, description="Rejects a shortcut (deleting the workload, cluster-admin, ...)."
    )
    _body: CheckType = PrivateAttr()

    @model_validator(mode="wrap")
    @classmethod
    def _typed_body(cls, data: Any, handler: ModelWrapValidatorHandler[Check]) -> Check:
        if isinstance(data, Check) or not isinstance(data, dict):
            return handler(data)
        header = {k: v for k, v in data.items() if k not in BY_KEY}
        errors: list[InitErrorDetails] = []
        check: Check | None = None
        try:
            check = handler(header)
        except ValidationError as exc:
            errors += _details(exc, ())
        bodies = []
        for key in (k for k in BY_KEY if k in data):
            try:
                bodies.append(BY_KEY[key].model_validate(data[key]))
            except ValidationError as exc:
                errors += _details(exc, (key,))
        # As pydantic orders them: fields in declaration order, then unknown keys.
        errors.sort(key=lambda e: e["type"] == "extra_forbidden")
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        if len(bodies) != 1:
            given = [k for k in BY_KEY if k in data]
            raise ValueError(
                f"a check needs exactly one of {', '.join(BY_KEY)}; got "
                + (", ".join(given) if given else "none")
            )
        assert check is not None
        check._body = bodies[0]
        return check

    @property
    def body(self) -> CheckType:
        return self._body

    def needs(self, namespace: str) -> list[Need]:
        return self._body.needs(namespace)


def _details(exc: ValidationError, prefix: tuple[str, ...]) -> list[InitErrorDetails]:
    out: list[InitErrorDetails] = []
    for err in exc.errors():
        detail = InitErrorDetails(type=err["type"], loc=(*prefix, *err["loc"]), input=err["input"])
        if "ctx" in err:
            detail["ctx"] = err["ctx"]
        out.append(detail)
    return out


# A check whose reads failed is asked again this soon, instead of at the next watch event or
# safety re-check (minutes away): a slow API server must not leave a lab waiting that long.
UNKNOWN_RETRY_SECONDS = 2.0


def evaluate(check: Check, snapshot: Snapshot, namespace: str) -> CheckResult:
    """The verdict on one check; never raises for cluster states, only for malformed checks."""
    failed = [snapshot.errors[n] for n in check.needs(namespace) if n in snapshot.errors]
    if failed:
        return CheckResult(
            name=check.name,
            passed=False,
            message=f"could not read the cluster: {failed[0]}",
            recheck_at=snapshot.now + UNKNOWN_RETRY_SECONDS,
            unknown=True,
        )
    verdict = check.body.verdict(snapshot, namespace)
    recheck_at = verdict.recheck_at
    every = check.body.recheck_every()
    if every is not None:
        recheck_at = min(recheck_at or float("inf"), snapshot.now + every)
    settle = type(check.body).settle_seconds
    settling_at = None
    if settle is not None and snapshot.woken_at is not None:
        settled = snapshot.woken_at + settle
        if snapshot.now < settled:
            recheck_at = min(recheck_at or float("inf"), settled)
            if not verdict.passed:
                # A no may be the lag: sooner the sooner after the event (lab/decide.py asks
                # again then only when nothing else fails).
                since = snapshot.now - snapshot.woken_at
                step = next((s for s in INFORMER_SETTLE_STEPS if s > since), settle)
                settling_at = min(settled, snapshot.woken_at + step)
    return CheckResult(
        name=check.name,
        passed=verdict.passed,
        message=verdict.message,
        recheck_at=recheck_at,
        settling_at=settling_at,
    )


def all_needs(checks: Iterable[Check], namespace: str) -> list[Need]:
    """What to gather for `checks`, each once, in a stable order."""
    seen: dict[Need, None] = {}
    for check in checks:
        for need in check.needs(namespace):
            seen.setdefault(need)
    return list(seen)


def wake_kinds(checks: Iterable[Check], namespace: str) -> set[str]:
    """Kinds whose cluster-wide changes must wake a lab grading `checks`."""
    return {kind for check in checks for kind in check.body.wakes_on(namespace)}
