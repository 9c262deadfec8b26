"""`workloadAvailable`: a Deployment, StatefulSet or DaemonSet has every desired replica updated
and available, and no replica of an older template left (the rollout is over, as `kubectl
rollout status` says)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import (
    describe_workload_conditions,
    labels_match,
    live,
    name_of,
    pod_details,
    ready_pods,
)
from breakfix.checks.snapshot import Need, ObjectsNeed, Snapshot


class WorkloadAvailableCheck(CheckType):
    key: ClassVar[str] = "workloadAvailable"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("apps/v1", "deployments", kind="Deployment"),
        Reads("apps/v1", "statefulsets", kind="StatefulSet"),
        Reads("apps/v1", "daemonsets", kind="DaemonSet"),
        Reads("v1", "pods", kind="Pod"),
    )

    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = "Deployment"
    name: str
    min_replicas: int = Field(1, ge=0, alias="minReplicas")
    for_seconds: int = Field(0, ge=0, alias="forSeconds")
    namespace: str | None = None

    def needs(self, namespace: str) -> list[Need]:
        ns = self.namespace or namespace
        return [ObjectsNeed("apps/v1", self.kind, ns), ObjectsNeed("v1", "Pod", ns)]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        ns = self.namespace or namespace
        found = [
            o for o in live(snapshot.list("apps/v1", self.kind, ns)) if name_of(o) == self.name
        ]
        if not found:
            return Verdict(False, f"no {self.kind} named {self.name} in namespace {ns}")
        obj = found[0]
        spec, status = obj.get("spec", {}), obj.get("status", {})
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        pods = [p for p in live(snapshot.list("v1", "Pod", ns)) if labels_match(p, selector)]
        label = f"{self.kind} {self.name}"
        if self.kind == "DaemonSet":
            desired = int(status.get("desiredNumberScheduled", 0))
            available = int(status.get("numberAvailable", 0))
            updated = int(status.get("updatedNumberScheduled", 0))
        else:
            desired = int(spec.get("replicas", 1))
            available = int(status.get("availableReplicas", 0))
            updated = int(status.get("updatedReplicas", 0))
        # Pods of an older template still counted: a rollout whose new pod cannot start keeps
        # the old one available, and `kubectl rollout status` waits on it.
        old = max(0, int(status.get("replicas", updated)) - updated)
        generation = obj.get("metadata", {}).get("generation", 0)
        current = status.get("observedGeneration", 0) >= generation
        if desired < self.min_replicas:
            return Verdict(
                False, f"{label}: {desired} replicas desired, need at least {self.min_replicas}"
            )
        held, soonest = ready_pods(pods, self.for_seconds, snapshot.now)
        done = (
            current
            and available >= desired
            and updated >= desired
            and old == 0
            and len(held) >= desired
        )
        if done:
            return Verdict(True, f"{label}: {available}/{desired} replicas available")
        reasons = describe_workload_conditions(obj)
        if current and available >= desired and updated < desired:
            reasons.insert(0, f"{updated}/{desired} replicas updated, rollout not finished")
        elif current and old:
            reasons.insert(
                0, f"{old} replica(s) of an older template still running, rollout not finished"
            )
        detail = ("; " + "; ".join(reasons)) if reasons else ""
        waiting = ""
        if soonest and available >= desired:
            waiting = f" (available, waiting {self.for_seconds}s to be sure)"
        return Verdict(
            False,
            f"{label}: {available}/{desired} replicas available{waiting}{detail}"
            + pod_details(pods, held),
            soonest,
        )
