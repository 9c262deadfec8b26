"""`podsReady`: at least `min` pods matching `selector` are Ready, and have been for
`forSeconds`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import format_selector, labels_match, live, pod_details, ready_pods
from breakfix.checks.snapshot import Need, ObjectsNeed, Snapshot


class PodsReadyCheck(CheckType):
    key: ClassVar[str] = "podsReady"
    reads: ClassVar[tuple[Reads, ...]] = (Reads("v1", "pods", kind="Pod"),)

    selector: dict[str, str]
    min: int = Field(1, ge=1)
    for_seconds: int = Field(0, ge=0, alias="forSeconds")
    namespace: str | None = None

    def needs(self, namespace: str) -> list[Need]:
        return [ObjectsNeed("v1", "Pod", self.namespace or namespace)]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        ns = self.namespace or namespace
        pods = [p for p in live(snapshot.list("v1", "Pod", ns)) if labels_match(p, self.selector)]
        held, soonest = ready_pods(pods, self.for_seconds, snapshot.now)
        label = f"pods {format_selector(self.selector)}"
        if not pods:
            return Verdict(False, f"no pods with labels {format_selector(self.selector)}")
        if len(held) >= self.min:
            return Verdict(True, f"{label}: {len(held)}/{len(pods)} ready")
        waiting = f" (ready, waiting {self.for_seconds}s to be sure)" if soonest else ""
        return Verdict(
            False,
            f"{label}: {len(held)}/{len(pods)} ready, need {self.min}{waiting}"
            + pod_details(pods, held),
            soonest,
        )
