"""Evaluate a check against a snapshot: pass or fail, and a message that says what is wrong."""

from __future__ import annotations

from breakfix.checks.assertion import match
from breakfix.checks.diagnose import (
    describe_pod,
    describe_workload_conditions,
    labels_match,
    live,
    ready_since,
)
from breakfix.checks.models import (
    AbsentCheck,
    CanICheck,
    Check,
    CheckResult,
    FlowEnd,
    LogsCheck,
    NetworkFlowCheck,
    PodsReadyCheck,
    ResourceCheck,
    ServiceEndpointsCheck,
    Target,
    WorkloadAvailableCheck,
    format_selector,
)
from breakfix.checks.netpol import Endpoint, flow
from breakfix.checks.snapshot import (
    LogsNeed,
    Need,
    Obj,
    Snapshot,
    access_need,
    needs,
    scope,
)

MAX_POD_DETAILS = 2


class _Result:
    def __init__(self, passed: bool, message: str, recheck_at: float | None = None) -> None:
        self.passed, self.message, self.recheck_at = passed, message, recheck_at


def evaluate(check: Check, snapshot: Snapshot, namespace: str) -> CheckResult:
    """The verdict on one check; never raises for cluster states, only for malformed checks."""
    failed = [snapshot.errors[n] for n in needs(check, namespace) if n in snapshot.errors]
    if failed:
        result = _Result(False, f"could not read the cluster: {failed[0]}")
    else:
        result = _evaluate(check, snapshot, namespace)
    return CheckResult(
        name=check.name,
        passed=result.passed,
        message=result.message,
        recheck_at=result.recheck_at,
    )


def _evaluate(check: Check, snapshot: Snapshot, namespace: str) -> _Result:
    body = check.body
    if isinstance(body, ResourceCheck):
        return _resource(body, snapshot, namespace)
    if isinstance(body, AbsentCheck):
        return _absent(body, snapshot, namespace)
    if isinstance(body, CanICheck):
        return _can_i(body, snapshot, namespace)
    if isinstance(body, PodsReadyCheck):
        return _pods_ready(body, snapshot, namespace)
    if isinstance(body, WorkloadAvailableCheck):
        return _workload(body, snapshot, namespace)
    if isinstance(body, ServiceEndpointsCheck):
        return _endpoints(body, snapshot, namespace)
    if isinstance(body, NetworkFlowCheck):
        return _network_flow(body, snapshot, namespace)
    return _logs(body, snapshot, namespace)


def _name(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", "?"))


def _select(target: Target, snapshot: Snapshot, namespace: str) -> list[Obj]:
    objs = live(
        snapshot.list(
            target.api_version, target.kind, scope(target.kind, target.namespace, namespace)
        )
    )
    if target.name is not None:
        return [o for o in objs if _name(o) == target.name]
    if target.selector is not None:
        return [o for o in objs if labels_match(o, target.selector)]
    return objs


def _where(target: Target, namespace: str) -> str:
    ns = scope(target.kind, target.namespace, namespace)
    return f" in namespace {ns}" if ns else ""


def _resource(check: ResourceCheck, snapshot: Snapshot, namespace: str) -> _Result:
    objs = _select(check, snapshot, namespace)
    if not objs:
        what = f"no {check.kind} named {check.name}" if check.name else f"no {check.describe()}"
        return _Result(False, what + _where(check, namespace))
    verdicts = [(o, match(check.expect, o)) for o in objs]
    bad = [(o, problems) for o, problems in verdicts if problems]
    ok = not bad if check.match == "all" else len(bad) < len(verdicts)
    if ok:
        names = ", ".join(_name(o) for o, p in verdicts if not p)
        return _Result(True, f"{check.kind} {names} as expected")
    obj, problems = bad[0]
    extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return _Result(False, f"{check.kind} {_name(obj)}: {problems[0]}{extra}")


def _absent(check: AbsentCheck, snapshot: Snapshot, namespace: str) -> _Result:
    matching = [o for o in _select(check, snapshot, namespace) if not match(check.expect, o)]
    if not matching:
        return _Result(True, f"no {check.describe()}" + (" matching" if check.expect else ""))
    names = ", ".join(_name(o) for o in matching[:3])
    return _Result(
        False, f"{check.kind} {names} should not exist" + (" in this form" if check.expect else "")
    )


def _can_i(check: CanICheck, snapshot: Snapshot, namespace: str) -> _Result:
    need = access_need(check, namespace)
    allowed = snapshot.access.get(need)
    subject = check.subject
    who = f"{subject.kind} {subject.name}"
    resource = check.resource + (f"/{check.subresource}" if check.subresource else "")
    if check.group:
        resource += f".{check.group}"
    where = f" in namespace {need.namespace}" if need.namespace else " cluster-wide"
    if allowed is None:
        return _Result(False, f"no access review answer for {who}")
    verb = "can" if allowed else "cannot"
    text = f"{who} {verb} {check.verb} {resource}{where}"
    if allowed == check.allowed:
        return _Result(True, text)
    return _Result(False, text + (" (it should)" if check.allowed else " (it should not)"))


def _ready_pods(pods: list[Obj], for_seconds: int, now: float) -> tuple[list[Obj], float | None]:
    """Pods Ready for at least `for_seconds`, and when the next not-yet-long-enough one will be."""
    held, soonest = [], None
    for pod in pods:
        since = ready_since(pod)
        if since is None:
            continue
        if now - since >= for_seconds:
            held.append(pod)
        else:
            due = since + for_seconds
            soonest = due if soonest is None else min(soonest, due)
    return held, soonest


def _pod_details(pods: list[Obj], healthy: list[Obj]) -> str:
    ok = {_name(p) for p in healthy}
    sick = [describe_pod(p) for p in pods if _name(p) not in ok]
    if not sick:
        return ""
    more = f" (+{len(sick) - MAX_POD_DETAILS} more)" if len(sick) > MAX_POD_DETAILS else ""
    return "; " + "; ".join(sick[:MAX_POD_DETAILS]) + more


def _pods_ready(check: PodsReadyCheck, snapshot: Snapshot, namespace: str) -> _Result:
    ns = check.namespace or namespace
    pods = [p for p in live(snapshot.list("v1", "Pod", ns)) if labels_match(p, check.selector)]
    held, soonest = _ready_pods(pods, check.for_seconds, snapshot.now)
    label = f"pods {format_selector(check.selector)}"
    if not pods:
        return _Result(False, f"no pods with labels {format_selector(check.selector)}")
    if len(held) >= check.min:
        return _Result(True, f"{label}: {len(held)}/{len(pods)} ready")
    waiting = f" (ready, waiting {check.for_seconds}s to be sure)" if soonest else ""
    return _Result(
        False,
        f"{label}: {len(held)}/{len(pods)} ready, need {check.min}{waiting}"
        + _pod_details(pods, held),
        soonest,
    )


def _workload(check: WorkloadAvailableCheck, snapshot: Snapshot, namespace: str) -> _Result:
    ns = check.namespace or namespace
    found = [o for o in live(snapshot.list("apps/v1", check.kind, ns)) if _name(o) == check.name]
    if not found:
        return _Result(False, f"no {check.kind} named {check.name} in namespace {ns}")
    obj = found[0]
    spec, status = obj.get("spec", {}), obj.get("status", {})
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    pods = [p for p in live(snapshot.list("v1", "Pod", ns)) if labels_match(p, selector)]
    label = f"{check.kind} {check.name}"
    if check.kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled", 0))
        available = int(status.get("numberAvailable", 0))
        updated = int(status.get("updatedNumberScheduled", 0))
    else:
        desired = int(spec.get("replicas", 1))
        available = int(status.get("availableReplicas", 0))
        updated = int(status.get("updatedReplicas", 0))
    current = status.get("observedGeneration", 0) >= obj.get("metadata", {}).get("generation", 0)
    if desired < check.min_replicas:
        return _Result(
            False, f"{label}: {desired} replicas desired, need at least {check.min_replicas}"
        )
    held, soonest = _ready_pods(pods, check.for_seconds, snapshot.now)
    done = current and available >= desired and updated >= desired and len(held) >= desired
    if done:
        return _Result(True, f"{label}: {available}/{desired} replicas available")
    reasons = describe_workload_conditions(obj)
    if current and available >= desired and updated < desired:
        reasons.insert(0, f"{updated}/{desired} replicas updated, rollout not finished")
    detail = ("; " + "; ".join(reasons)) if reasons else ""
    waiting = ""
    if soonest and available >= desired:
        waiting = f" (available, waiting {check.for_seconds}s to be sure)"
    return _Result(
        False,
        f"{label}: {available}/{desired} replicas available{waiting}{detail}"
        + _pod_details(pods, held),
        soonest,
    )


def _endpoints(check: ServiceEndpointsCheck, snapshot: Snapshot, namespace: str) -> _Result:
    ns = check.namespace or namespace
    services = [s for s in live(snapshot.list("v1", "Service", ns)) if _name(s) == check.service]
    if not services:
        return _Result(False, f"no Service named {check.service} in namespace {ns}")
    slices = [
        s
        for s in snapshot.list("discovery.k8s.io/v1", "EndpointSlice", ns)
        if labels_match(s, {"kubernetes.io/service-name": check.service})
    ]
    ready: set[str] = set()
    for slice_ in slices:
        ports = slice_.get("ports") or []
        if not ports and services[0].get("spec", {}).get("ports"):
            # A named targetPort that no container defines leaves the slice without ports: its
            # endpoints are listed, but serve nothing.
            continue
        if check.port is not None and not any(
            p.get("port") == check.port or p.get("name") == check.port for p in ports
        ):
            continue
        for endpoint in slice_.get("endpoints") or []:
            # The API says an unset `ready` means ready.
            if (endpoint.get("conditions") or {}).get("ready") is not False:
                ready.update(endpoint.get("addresses") or [])
    label = f"Service {check.service}"
    if len(ready) >= check.min:
        return _Result(True, f"{label}: {len(ready)} ready endpoints")
    selector = services[0].get("spec", {}).get("selector") or {}
    if not selector:
        why = "it has no selector"
    else:
        pods = [p for p in live(snapshot.list("v1", "Pod", ns)) if labels_match(p, selector)]
        why = (
            f"selector {format_selector(selector)} matches no pod"
            if not pods
            else f"selector {format_selector(selector)} matches {len(pods)} pods"
            + _pod_details(pods, [])
        )
    return _Result(False, f"{label}: {len(ready)} ready endpoints, need {check.min}; {why}")


def _logs(check: LogsCheck, snapshot: Snapshot, namespace: str) -> _Result:
    ns = check.namespace or namespace
    pods = [p for p in live(snapshot.list("v1", "Pod", ns)) if labels_match(p, check.selector)]
    label = f"logs of pods {format_selector(check.selector)}"
    if not pods:
        return _Result(False, f"no pods with labels {format_selector(check.selector)}")
    texts = {
        _name(p): text
        for p in pods
        for (pns, pod, _), text in snapshot.logs.items()
        if pns == ns and pod == _name(p)
    }
    if check.contains is not None:
        hits = [name for name, text in texts.items() if check.contains in text]
        if hits:
            return _Result(True, f"{label}: pod {hits[0]} logged {check.contains!r}")
        return _Result(False, f"{label}: no pod has logged {check.contains!r} yet")
    assert check.not_contains is not None
    hits = [name for name, text in texts.items() if check.not_contains in text]
    if hits:
        return _Result(False, f"{label}: pod {hits[0]} logged {check.not_contains!r}")
    return _Result(True, f"{label}: no {check.not_contains!r}")


def _network_flow(check: NetworkFlowCheck, snapshot: Snapshot, namespace: str) -> _Result:
    namespaces = {_name(n): n for n in snapshot.list("v1", "Namespace", "")}
    policies = live(snapshot.list("networking.k8s.io/v1", "NetworkPolicy", ""))

    def endpoints(end: FlowEnd) -> list[Endpoint]:
        ns = end.namespace or namespace
        ns_obj = namespaces.get(
            ns, {"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}
        )
        return [
            Endpoint(p, ns_obj)
            for p in live(snapshot.list("v1", "Pod", ns))
            if labels_match(p, end.selector)
        ]

    sources, dests = endpoints(check.from_), endpoints(check.to)
    if not sources or not dests:
        missing = check.from_ if not sources else check.to
        return _Result(False, f"no pods with labels {format_selector(missing.selector)}")
    verdicts = [flow(policies, s, d, check.port, check.protocol) for s in sources for d in dests]
    wrong = [v for v in verdicts if v.allowed != check.allowed]
    if not wrong:
        return _Result(True, verdicts[0].reason)
    return _Result(
        False,
        wrong[0].reason
        + (" (it should be allowed)" if check.allowed else " (it should be denied)"),
    )


def all_needs(checks: list[Check], namespace: str) -> list[Need]:
    seen: dict[Need, None] = {}
    for check in checks:
        for need in needs(check, namespace):
            seen.setdefault(need)
    return list(seen)


__all__ = ["LogsNeed", "all_needs", "evaluate"]
