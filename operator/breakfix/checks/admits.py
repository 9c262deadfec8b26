"""`admits`: the API server's admission chain, asked with a server-side dry run (`dryRun=All`,
what `kubectl create --dry-run=server` does), would accept, or refuse, creating an object in the
lab namespace. Every admission step answers as it would for a real create (Pod Security, a
ValidatingAdmissionPolicy and its binding's actions, admission webhooks and their failure
policies, quotas, LimitRanges), and nothing is created.
With `pods: <selector>` the objects are the running pods themselves, each submitted again as it
runs: admission judges pods only when they are created, so a pod started before a namespace was
tightened keeps running although the namespace would refuse it now.

Judging a policy from its objects instead is a proxy: a binding in `Warn` or `Audit`, a
namespace selector that misses, or a CEL expression that errors with `failurePolicy: Ignore`
all look right and refuse nothing."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field, model_validator

from breakfix.checks.check_type import INFORMER_SETTLE_SECONDS, CheckType, Reads, Verdict
from breakfix.checks.diagnose import format_selector, labels_match, live, name_of
from breakfix.checks.snapshot import (
    AdmissionAnswer,
    AdmissionNeed,
    Need,
    ObjectsNeed,
    PodsAdmissionNeed,
    Snapshot,
)

ADMISSION = "admissionregistration.k8s.io/v1"


class AdmitsCheck(CheckType):
    settle_seconds: ClassVar[float | None] = INFORMER_SETTLE_SECONDS
    key: ClassVar[str] = "admits"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "pods", kind="Pod"),
        # Not read, but the answer changes with them: watched to wake the lab.
        Reads("v1", "namespaces", kind="Namespace"),
        Reads(ADMISSION, "validatingadmissionpolicies", kind="ValidatingAdmissionPolicy"),
        Reads(
            ADMISSION,
            "validatingadmissionpolicybindings",
            kind="ValidatingAdmissionPolicyBinding",
        ),
        Reads(
            ADMISSION,
            "validatingwebhookconfigurations",
            kind="ValidatingWebhookConfiguration",
        ),
    )

    object: dict[str, Any] | None = Field(
        None,
        description="The manifest to try to create in the lab namespace; without a name, the "
        "API server generates one.",
    )
    pods: dict[str, str] | None = Field(
        None,
        description="Instead of `object`: every running pod matching this selector ({} for "
        "all), each submitted again as it runs.",
    )
    min: int = Field(1, ge=0, description="With `pods`: at least this many must match.")
    allowed: bool = True
    message_contains: str | None = Field(
        None,
        alias="messageContains",
        description="A refusal counts only if its message says this (the policy that should "
        "refuse, not a quota or a typo in the object).",
    )
    why: str | None = Field(None, description="Told to the learner when the check fails.")

    @model_validator(mode="after")
    def _one_subject(self) -> AdmitsCheck:
        if (self.object is None) == (self.pods is None):
            raise ValueError("give exactly one of object or pods")
        if self.object is not None and (
            not self.object.get("apiVersion") or not self.object.get("kind")
        ):
            raise ValueError("the object needs apiVersion and kind")
        return self

    def admission_need(self, namespace: str) -> AdmissionNeed:
        obj = dict(self.object or {})
        meta = dict(obj.get("metadata") or {})
        meta["namespace"] = namespace
        if not meta.get("name"):
            meta.setdefault("generateName", "breakfix-admits-")
        obj["metadata"] = meta
        return AdmissionNeed(namespace, json.dumps(obj, sort_keys=True))

    def needs(self, namespace: str) -> list[Need]:
        if self.pods is not None:
            return [
                ObjectsNeed("v1", "Pod", namespace),
                PodsAdmissionNeed(namespace, tuple(sorted(self.pods.items()))),
            ]
        return [self.admission_need(namespace)]

    def wakes_on(self, namespace: str) -> set[str]:
        # Policies, bindings and webhook configurations are cluster-scoped, and a namespace's
        # labels choose its Pod Security level: none of them is in the lab namespace.
        return {
            "Namespace",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ValidatingWebhookConfiguration",
        }

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        if self.pods is not None:
            return self._pods_verdict(snapshot, namespace)
        answer = snapshot.admissions.get(self.admission_need(namespace))
        what = f"creating {self._describe()}"
        return self._judge(answer, what)

    def _pods_verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        selector = self.pods or {}
        pods = [p for p in live(snapshot.list("v1", "Pod", namespace)) if labels_match(p, selector)]
        label = f"pods {format_selector(selector)}" if selector else "pods"
        if len(pods) < self.min:
            return Verdict(False, f"{label}: {len(pods)} running, need {self.min}")
        for pod in pods:
            answer = snapshot.pod_admissions.get((namespace, name_of(pod)))
            verdict = self._judge(answer, f"pod {name_of(pod)} as it runs")
            if not verdict.passed:
                return verdict
        verb = "admits" if self.allowed else "refuses"
        return Verdict(True, f"{label}: the API server {verb} each of {len(pods)} as it runs")

    def _judge(self, answer: AdmissionAnswer | None, what: str) -> Verdict:
        if answer is None:
            return Verdict(False, f"no answer from the API server to {what}")
        if answer.allowed:
            text = f"the API server admits {what}"
            if self.allowed:
                return Verdict(True, text)
            return Verdict(False, f"{text}; it should refuse it" + self._why())
        text = f"the API server refuses {what}: {answer.message}"
        if not self.allowed:
            if self.message_contains and self.message_contains not in answer.message:
                return Verdict(
                    False,
                    f"{text}; but not for the reason wanted ({self.message_contains!r} not in it)"
                    + self._why(),
                )
            return Verdict(True, text)
        return Verdict(False, f"{text}; it should admit it" + self._why())

    def _describe(self) -> str:
        obj = self.object or {}
        kind = obj["kind"]
        name = (obj.get("metadata") or {}).get("name")
        images = [
            str(c["image"])
            for c in (obj.get("spec") or {}).get("containers") or []
            if isinstance(c, dict) and c.get("image")
        ]
        text = f"{kind} {name}" if name else f"a {kind}"
        return text + (f" with image {', '.join(images)}" if images else "")

    def _why(self) -> str:
        return f" ({self.why})" if self.why else ""


# What a pod's create may not carry, or what only the API server sets.
_POD_META_KEPT = ("labels", "annotations")


def resubmitted(pod: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A running pod as a new create request: its spec and labels, without what only the
    server sets (status, uid, ownerReferences) or a create may not carry (ephemeral containers)."""
    meta = pod.get("metadata") or {}
    spec = {k: v for k, v in (pod.get("spec") or {}).items() if k != "ephemeralContainers"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"{meta.get('name', 'pod')}-admits-",
            "namespace": namespace,
            **{k: meta[k] for k in _POD_META_KEPT if meta.get(k)},
        },
        "spec": spec,
    }
