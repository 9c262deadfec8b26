"""`evictionAllowed`: the Eviction API itself would let each selected pod go, asked with a
server-side dry run (`dryRun=All`, what `kubectl drain --dry-run=server` does): the answer a
real drain gets, with every budget that covers the pod taken into account, and nothing evicted.

Judging from the PodDisruptionBudget objects instead is a proxy: one permissive budget next to
the strict one looks fine, while the API refuses any pod covered by two budgets."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import format_selector, labels_match, live, name_of
from breakfix.checks.snapshot import EvictionNeed, Need, ObjectsNeed, Snapshot

MULTIPLE_BUDGETS = "more than one PodDisruptionBudget"


class EvictionAllowedCheck(CheckType):
    key: ClassVar[str] = "evictionAllowed"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "pods", kind="Pod"),
        # A dry-run eviction is a create on the subresource, even though nothing is evicted.
        Reads("v1", "pods/eviction", ("create",)),
        # Not read, but the answer changes with them: watched to wake the lab.
        Reads("policy/v1", "poddisruptionbudgets", kind="PodDisruptionBudget"),
    )

    selector: dict[str, str]
    min: int = Field(1, ge=1, description="At least this many pods must be selected.")
    namespace: str | None = None

    def needs(self, namespace: str) -> list[Need]:
        ns = self.namespace or namespace
        return [
            ObjectsNeed("v1", "Pod", ns),
            ObjectsNeed("policy/v1", "PodDisruptionBudget", ns),
            EvictionNeed(ns, tuple(sorted(self.selector.items()))),
        ]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        ns = self.namespace or namespace
        pods = [p for p in live(snapshot.list("v1", "Pod", ns)) if labels_match(p, self.selector)]
        label = f"pods {format_selector(self.selector)}"
        if len(pods) < self.min:
            return Verdict(False, f"{label}: {len(pods)} found, need {self.min}")
        refused = []
        for pod in pods:
            answer = snapshot.evictions.get((ns, name_of(pod)))
            if answer is None:
                refused.append(f"{name_of(pod)}: no answer from the Eviction API")
            elif not answer.allowed:
                why = answer.message
                if MULTIPLE_BUDGETS in why:
                    why += " (a second budget does not relax the first: the API refuses both)"
                refused.append(f"{name_of(pod)}: {why}")
        if refused:
            return Verdict(
                False,
                f"{label}: the Eviction API (dry run) refuses {len(refused)}/{len(pods)}: "
                + refused[0],
            )
        return Verdict(True, f"{label}: the Eviction API (dry run) would evict each of {len(pods)}")
