"""Selecting objects by kind and name or labels: shared by the `resource` and `absent` types."""

from __future__ import annotations

from pydantic import Field, model_validator

from breakfix.checks.diagnose import format_selector, labels_match, live, name_of
from breakfix.checks.models import Model
from breakfix.checks.snapshot import Need, Obj, ObjectsNeed, Snapshot, scope
from breakfix.kube.watched import POLL_SECONDS, POLLED


class Target(Model):
    """Which objects a check looks at: one by name, or all that match a label selector."""

    api_version: str = Field("v1", alias="apiVersion")
    kind: str
    name: str | None = None
    selector: dict[str, str] | None = None
    namespace: str | None = Field(
        None, description="Defaults to the lab namespace for namespaced kinds."
    )
    fresh: bool = Field(
        False,
        description="Read through the API, not the watch cache, whenever the grading would "
        "solve the lab: for a guard that must agree with a check asking the API live (an "
        "eviction, an access review).",
    )

    def recheck_every(self) -> float | None:
        """How often what this check reads must be looked at again: only for kinds served
        without a watch (the metrics API), whose changes wake no lab. Comes before
        CheckType.recheck_every in the `resource` and `absent` types."""
        return POLL_SECONDS if (self.api_version, self.kind) in POLLED else None

    @model_validator(mode="after")
    def _name_or_selector(self) -> Target:
        if self.name is not None and self.selector is not None:
            raise ValueError("give either name or selector, not both")
        return self

    def describe(self) -> str:
        if self.name:
            return f"{self.kind} {self.name}"
        if self.selector:
            return f"{self.kind} objects with labels {format_selector(self.selector)}"
        return f"{self.kind} objects"

    def target_needs(self, namespace: str) -> list[Need]:
        return [
            ObjectsNeed(
                self.api_version,
                self.kind,
                scope(self.kind, self.namespace, namespace),
                self.fresh,
            )
        ]

    def select(self, snapshot: Snapshot, namespace: str) -> list[Obj]:
        objs = live(
            snapshot.list(
                self.api_version,
                self.kind,
                scope(self.kind, self.namespace, namespace),
                self.fresh,
            )
        )
        if self.name is not None:
            return [o for o in objs if name_of(o) == self.name]
        if self.selector is not None:
            return [o for o in objs if labels_match(o, self.selector)]
        return objs

    def where(self, namespace: str) -> str:
        ns = scope(self.kind, self.namespace, namespace)
        return f" in namespace {ns}" if ns else ""
