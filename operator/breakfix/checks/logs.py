"""`logs`: the logs of the pods matching `selector` contain (or do not contain) a substring."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import format_selector, labels_match, live, name_of
from breakfix.checks.snapshot import LogsNeed, Need, ObjectsNeed, Snapshot


class LogsCheck(CheckType):
    key: ClassVar[str] = "logs"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "pods", kind="Pod"),
        Reads("v1", "pods/log", ("get",)),
    )

    selector: dict[str, str]
    container: str | None = None
    contains: str | None = None
    not_contains: str | None = Field(None, alias="notContains")
    namespace: str | None = None

    @model_validator(mode="after")
    def _one_pattern(self) -> LogsCheck:
        if (self.contains is None) == (self.not_contains is None):
            raise ValueError("give exactly one of contains or notContains")
        return self

    def needs(self, namespace: str) -> list[Need]:
        ns = self.namespace or namespace
        return [
            ObjectsNeed("v1", "Pod", ns),
            LogsNeed(ns, tuple(sorted(self.selector.items())), self.container),
        ]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        ns = self.namespace or namespace
        pods = [p for p in live(snapshot.list("v1", "Pod", ns)) if labels_match(p, self.selector)]
        label = f"logs of pods {format_selector(self.selector)}"
        if not pods:
            return Verdict(False, f"no pods with labels {format_selector(self.selector)}")
        texts = {
            name_of(p): text
            for p in pods
            for (pns, pod, _), text in snapshot.logs.items()
            if pns == ns and pod == name_of(p)
        }
        if self.contains is not None:
            hits = [name for name, text in texts.items() if self.contains in text]
            if hits:
                return Verdict(True, f"{label}: pod {hits[0]} logged {self.contains!r}")
            return Verdict(False, f"{label}: no pod has logged {self.contains!r} yet")
        assert self.not_contains is not None
        hits = [name for name, text in texts.items() if self.not_contains in text]
        if hits:
            return Verdict(False, f"{label}: pod {hits[0]} logged {self.not_contains!r}")
        return Verdict(True, f"{label}: no {self.not_contains!r}")
