"""Gather the snapshot a lab's checks need: from the watch cache where possible, else the API."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from breakfix.checks.diagnose import labels_match, live
from breakfix.checks.service_request import (
    ANSWER_SECONDS,
    answer_key,
    find_service,
    parse_probe_log,
    probe_pod,
    resolve_target,
)
from breakfix.checks.snapshot import (
    AccessNeed,
    EvictionNeed,
    LogsNeed,
    Need,
    ObjectsNeed,
    RequestAnswer,
    RequestNeed,
    Snapshot,
)
from breakfix.kube.client import ApiException, Kube, ResourceNotFoundError
from breakfix.kube.watched import BY_API_KIND

# index id -> {namespace or "": iterable of cached objects}
Indexes = Mapping[str, Mapping[str, Iterable[dict[str, Any]]]]

# The last answer to each service request and what it depended on (service_request.answer_key):
# the client pod's own events wake the lab, and must not start another client pod.
_answers: dict[RequestNeed, tuple[tuple[Any, ...], RequestAnswer]] = {}


def cached(indexes: Indexes, need: ObjectsNeed) -> list[dict[str, Any]] | None:
    watched = BY_API_KIND.get((need.api_version, need.kind))
    if watched is None or watched.index_id not in indexes:
        return None
    index = indexes[watched.index_id]
    if watched.namespaced and need.namespace == "":
        return [obj for store in index.values() for obj in store]
    return list(index.get(need.namespace if watched.namespaced else "", ()))


async def gather(kube: Kube, indexes: Indexes, needs: list[Need]) -> Snapshot:
    snapshot = Snapshot(now=time.time())

    async def fetch(need: Need) -> None:
        try:
            if isinstance(need, ObjectsNeed):
                objs = None if need.fresh else cached(indexes, need)
                if objs is None:
                    objs = await kube.list_objects(need.api_version, need.kind, need.namespace)
                snapshot.objects[need] = objs
            elif isinstance(need, AccessNeed):
                attrs = {
                    "verb": need.verb,
                    "resource": need.resource,
                    "group": need.group,
                    "subresource": need.subresource,
                    "name": need.name,
                    "namespace": need.namespace,
                }
                snapshot.access[need] = await kube.can_i(need.user, list(need.groups), attrs)
        except ResourceNotFoundError:
            snapshot.errors[need] = "this cluster does not serve that kind"
        except ApiException as exc:
            snapshot.errors[need] = f"{exc.status} {exc.reason}"

    later = (LogsNeed, EvictionNeed, RequestNeed)
    await asyncio.gather(*(fetch(n) for n in needs if not isinstance(n, later)))
    # Logs and evictions come last: which pods to ask about depends on the pods just gathered.
    for need in needs:
        if isinstance(need, EvictionNeed):
            pods = snapshot.list("v1", "Pod", need.namespace)
            try:
                for pod in live(pods):
                    if labels_match(pod, dict(need.selector)):
                        name = pod["metadata"]["name"]
                        snapshot.evictions[(need.namespace, name)] = await kube.evict_dry_run(
                            need.namespace, name
                        )
            except ApiException as exc:
                snapshot.errors[need] = f"{exc.status} {exc.reason}"
    for need in needs:
        if isinstance(need, RequestNeed):
            answer = await _request(kube, snapshot, need)
            if answer is not None:
                snapshot.requests[need] = answer
    for need in needs:
        if isinstance(need, LogsNeed):
            pods = snapshot.list("v1", "Pod", need.namespace)
            for pod in live(pods):
                if labels_match(pod, dict(need.selector)):
                    name = pod["metadata"]["name"]
                    text = await kube.logs(need.namespace, name, need.container)
                    snapshot.logs[(need.namespace, name, need.container or "")] = text
    return snapshot


async def _request(kube: Kube, snapshot: Snapshot, need: RequestNeed) -> RequestAnswer | None:
    """The answer to a request through the Service's cluster IP: reused while the Service, its
    EndpointSlices and the namespace's policies are unchanged and it is recent, else asked
    again from a new client pod."""
    service = find_service(snapshot, need.namespace, need.service)
    if service is None:
        return None
    target = resolve_target(service, need.port)
    if isinstance(target, str):
        return None
    key = (
        *answer_key(
            service,
            snapshot.list("discovery.k8s.io/v1", "EndpointSlice", need.namespace),
            snapshot.list("networking.k8s.io/v1", "NetworkPolicy", need.namespace),
        ),
        target,
    )
    known = _answers.get(need)
    if known and known[0] == key and snapshot.now - known[1].at < ANSWER_SECONDS:
        return known[1]
    name = f"breakfix-request-{secrets.token_hex(4)}"
    dialled = f"{target[0]}:{target[1]}"
    try:
        log = await kube.run_pod(
            need.namespace, probe_pod(name, target, need.path, need.attempts, need.contains), 30
        )
        answer = parse_probe_log(log, target, snapshot.now)
    except ApiException as exc:
        why = f"the client pod could not run: {exc.status} {exc.reason}"
        answer = RequestAnswer(False, why, dialled, snapshot.now)
    except TimeoutError:
        why = "the client pod did not finish within 30s"
        answer = RequestAnswer(False, why, dialled, snapshot.now)
    _answers[need] = (key, answer)
    return answer
