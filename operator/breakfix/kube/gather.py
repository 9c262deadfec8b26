"""Gather the snapshot a lab's checks need: from the watch cache where possible, else the API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any

from breakfix.checks.diagnose import labels_match, live
from breakfix.checks.snapshot import (
    AccessNeed,
    CredentialNeed,
    EvictionNeed,
    LogsNeed,
    Need,
    NodeFileNeed,
    ObjectsNeed,
    ProbeNeed,
    Snapshot,
)
from breakfix.kube.agent import AgentClient, AgentError, node_address
from breakfix.kube.client import ApiException, Kube, ResourceNotFoundError
from breakfix.kube.watched import BY_API_KIND, watched_namespace

# A request to an API server that is going away may hang instead of failing.
FETCH_TIMEOUT_SECONDS = 10.0
# index id -> {namespace or "": iterable of cached objects}
Indexes = Mapping[str, Mapping[str, Iterable[dict[str, Any]]]]


def cached(indexes: Indexes, need: ObjectsNeed) -> list[dict[str, Any]] | None:
    watched = BY_API_KIND.get((need.api_version, need.kind))
    if watched is None or watched.index_id not in indexes:
        return None
    index = indexes[watched.index_id]
    if watched.namespaced and need.namespace == "":
        return [obj for store in index.values() for obj in store]
    if watched.namespaced and not watched_namespace(need.namespace):
        return None
    return list(index.get(need.namespace if watched.namespaced else "", ()))


async def gather(
    kube: Kube, indexes: Indexes, needs: list[Need], agent: AgentClient | None = None
) -> Snapshot:
    snapshot = Snapshot(now=time.time())

    async def fetch(need: Need) -> None:
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
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
                elif isinstance(need, NodeFileNeed):
                    address = await _agent_address(kube, indexes, need.node)
                    snapshot.files[(need.node, need.path)] = await (
                        agent or AgentClient.from_env()
                    ).read_file(address, need.path)
                elif isinstance(need, ProbeNeed):
                    address = await _agent_address(kube, indexes, need.node)
                    snapshot.probes[(need.node, need.url)] = await (
                        agent or AgentClient.from_env()
                    ).probe(address, need.url)
                elif isinstance(need, CredentialNeed):
                    address = await _agent_address(kube, indexes, need.node)
                    snapshot.identities[(need.node, need.kubeconfig)] = await (
                        agent or AgentClient.from_env()
                    ).whoami(address, need.kubeconfig)
        except ResourceNotFoundError:
            snapshot.errors[need] = "this cluster does not serve that kind"
        except (AgentError, LookupError) as exc:
            snapshot.errors[need] = str(exc)
        except (OSError, TimeoutError) as exc:
            # The API server is away (a control-plane lab): checks that need it fail, those the
            # node agent answers still grade.
            snapshot.errors[need] = f"the API server does not answer: {exc}"
        except ApiException as exc:
            snapshot.errors[need] = f"{exc.status} {exc.reason}"

    later = (LogsNeed, EvictionNeed)
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
            except (OSError, TimeoutError) as exc:
                snapshot.errors[need] = f"the API server does not answer: {exc}"
    for need in needs:
        if isinstance(need, LogsNeed):
            pods = snapshot.list("v1", "Pod", need.namespace)
            try:
                for pod in live(pods):
                    if labels_match(pod, dict(need.selector)):
                        name = pod["metadata"]["name"]
                        text = await kube.logs(need.namespace, name, need.container)
                        snapshot.logs[(need.namespace, name, need.container or "")] = text
            except (OSError, TimeoutError) as exc:
                snapshot.errors[need] = f"the API server does not answer: {exc}"
    return snapshot


async def _agent_address(kube: Kube, indexes: Indexes, name: str) -> str:
    """From the watch cache first: the node agent must be reachable with the API server down."""
    cache = cached(indexes, ObjectsNeed("v1", "Node", "")) or []
    node = next((n for n in cache if n["metadata"]["name"] == name), None)
    if node is None:
        node = await kube.get("v1", "Node", name)
    address = node_address(node) if node else None
    if address is None:
        raise LookupError(f"no Node {name} with an InternalIP to ask its node agent")
    return address
