"""`identityKept`: objects still are the very ones the scenario provisioned (same uid), for
tasks that say "edit it, do not delete and recreate it". When it provisions a lab, the operator
records the uid of every object it created on the lab namespace (annotation
`breakfix.dev/provisioned-uids`); a recreated object has a new uid, whatever its spec."""

from __future__ import annotations

import json
from typing import ClassVar

from pydantic import Field

from breakfix import PROVISIONED_UIDS
from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import live, name_of
from breakfix.checks.models import Model
from breakfix.checks.snapshot import Need, ObjectsNeed, Snapshot, scope


class ObjectName(Model):
    api_version: str = Field("v1", alias="apiVersion")
    kind: str
    name: str
    why: str | None = Field(None, description="Why it matters, told to the learner.")


class IdentityKeptCheck(CheckType):
    key: ClassVar[str] = "identityKept"
    # Like `resource`: it reads the kinds it names (and the lab's Namespace), which the catalog
    # test holds to the watched kinds and the chart's RBAC.
    reads: ClassVar[tuple[Reads, ...]] = ()

    objects: list[ObjectName] = Field(min_length=1)

    def needs(self, namespace: str) -> list[Need]:
        seen: dict[Need, None] = {ObjectsNeed("v1", "Namespace", ""): None}
        for o in self.objects:
            seen.setdefault(ObjectsNeed(o.api_version, o.kind, scope(o.kind, None, namespace)))
        return list(seen)

    def wakes_on(self, namespace: str) -> set[str]:
        return set()  # the lab namespace's own changes wake the lab; its annotation is static

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        ns_obj = next(
            (n for n in snapshot.list("v1", "Namespace", "") if name_of(n) == namespace), None
        )
        raw = ((ns_obj or {}).get("metadata", {}).get("annotations") or {}).get(PROVISIONED_UIDS)
        if raw is None:
            return Verdict(False, f"namespace {namespace} does not record what was provisioned")
        try:
            recorded = dict(json.loads(raw))
        except (ValueError, TypeError):
            return Verdict(False, f"namespace {namespace}: unreadable {PROVISIONED_UIDS}")
        for o in self.objects:
            label = f"{o.kind} {o.name}"
            current = [
                x
                for x in live(snapshot.list(o.api_version, o.kind, scope(o.kind, None, namespace)))
                if name_of(x) == o.name
            ]
            why = f": {o.why}" if o.why else ""
            if not current:
                return Verdict(False, f"{label} is gone; the task says to keep it{why}")
            expected = recorded.get(f"{o.kind}/{o.name}")
            if expected is None:
                return Verdict(False, f"{label} was not provisioned by the scenario")
            if current[0].get("metadata", {}).get("uid") != expected:
                return Verdict(
                    False,
                    f"{label} was deleted and created again (its uid changed since the lab "
                    f"was provisioned); the task says to edit it, not to recreate it{why}",
                )
        names = ", ".join(f"{o.kind} {o.name}" for o in self.objects)
        return Verdict(True, f"{names}: the same object(s) as provisioned, edited in place")
