"""One-line explanations of why a pod or workload is not healthy, for check messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

Obj = dict[str, Any]

MAX_POD_DETAILS = 2


def name_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", "?"))


def format_selector(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def condition(obj: Obj, type_: str) -> Obj | None:
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def labels_match(obj: Obj, selector: dict[str, str]) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def live(objs: list[Obj]) -> list[Obj]:
    """Objects not being deleted."""
    return [o for o in objs if not o.get("metadata", {}).get("deletionTimestamp")]


def ready_since(pod: Obj) -> float | None:
    """Epoch seconds since which the pod has been Ready, or None when it is not Ready."""
    cond = condition(pod, "Ready")
    if not cond or cond.get("status") != "True":
        return None
    return parse_time(cond.get("lastTransitionTime")) or 0.0


def _shorten(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _container_problem(status: Obj, init: bool) -> str | None:
    name = status.get("name", "?")
    label = f"init container {name}" if init else f"container {name}"
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated") or {}
    restarts = status.get("restartCount", 0)
    waiting = state.get("waiting")
    if waiting:
        reason = waiting.get("reason", "Waiting")
        detail = ""
        if last:
            detail = f", last exit {last.get('exitCode')}"
            if last.get("reason") and last.get("reason") not in ("Error", "Completed"):
                detail += f" {last['reason']}"
        elif waiting.get("message") and reason not in ("ContainerCreating", "PodInitializing"):
            detail = f": {_shorten(waiting['message'])}"
        more = f", {restarts} restarts" if restarts else ""
        return f"{label} {reason}{detail}{more}"
    terminated = state.get("terminated")
    if terminated and (init or terminated.get("exitCode", 0) != 0):
        if init and terminated.get("exitCode", 0) == 0:
            return None
        return (
            f"{label} terminated with exit {terminated.get('exitCode')} "
            f"({terminated.get('reason', 'Error')})"
        )
    if state.get("running") and not init and not status.get("ready"):
        more = f", {restarts} restarts" if restarts else ""
        return f"{label} running but not ready{more}"
    return None


def describe_pod(pod: Obj) -> str:
    """Why the pod is not Ready, in the words `kubectl get pods` and `describe` would use."""
    name = pod.get("metadata", {}).get("name", "?")
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return f"pod {name} is terminating"
    status = pod.get("status", {})
    scheduled = condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        why = scheduled.get("reason", "Unschedulable")
        msg = scheduled.get("message")
        return (
            f"pod {name} is Pending ({why}: {_shorten(str(msg))})"
            if msg
            else f"pod {name} is Pending ({why})"
        )
    problems = [
        p
        for init, key in ((True, "initContainerStatuses"), (False, "containerStatuses"))
        for s in status.get(key) or []
        if (p := _container_problem(s, init))
    ]
    if problems:
        return f"pod {name}: " + "; ".join(problems)
    phase = status.get("phase", "Unknown")
    if phase in ("Failed", "Succeeded"):
        reason = status.get("reason")
        return f"pod {name} is {phase}" + (f" ({reason})" if reason else "")
    if ready_since(pod) is not None:
        return f"pod {name} is Ready"
    return f"pod {name} is {phase}, not Ready"


def describe_workload_conditions(obj: Obj) -> list[str]:
    """Messages of the conditions that explain a stuck Deployment (quota, admission, deadline)."""
    out = []
    failure = condition(obj, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        out.append(
            _shorten(str(failure.get("message") or failure.get("reason") or "ReplicaFailure"))
        )
    progressing = condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        out.append("rollout exceeded its progress deadline")
    return out


def ready_pods(pods: list[Obj], for_seconds: int, now: float) -> tuple[list[Obj], float | None]:
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


def pod_details(pods: list[Obj], healthy: list[Obj]) -> str:
    """ "; pod x: why" for the first unhealthy pods, to append to a check's message."""
    ok = {name_of(p) for p in healthy}
    sick = [describe_pod(p) for p in pods if name_of(p) not in ok]
    if not sick:
        return ""
    more = f" (+{len(sick) - MAX_POD_DETAILS} more)" if len(sick) > MAX_POD_DETAILS else ""
    return "; " + "; ".join(sick[:MAX_POD_DETAILS]) + more
