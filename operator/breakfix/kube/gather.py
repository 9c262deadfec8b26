"""Gather the snapshot a lab's checks need: from the watch cache where possible, else the API."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from breakfix.checks.admits import resubmitted
from breakfix.checks.diagnose import labels_match, live, name_of
from breakfix.checks.rbac_rights import binding_keys
from breakfix.checks.service_request import (
    ANSWER_SECONDS,
    answer_key,
    answer_lifetime,
    find_service,
    parse_probe_log,
    probe_pod,
    resolve_target,
    versions,
)
from breakfix.checks.snapshot import (
    AccessNeed,
    AdmissionNeed,
    AuditNeed,
    CredentialNeed,
    EtcdSnapshotNeed,
    EvictionNeed,
    LogsNeed,
    Need,
    NodeFileNeed,
    ObjectsNeed,
    PatchAsNeed,
    PodsAdmissionNeed,
    ProbeNeed,
    RequestAnswer,
    RequestNeed,
    Snapshot,
)
from breakfix.kube.agent import AgentClient, AgentError, node_address
from breakfix.kube.client import ApiException, Kube, ResourceNotFoundError
from breakfix.kube.watched import BY_API_KIND, watched_namespace

# A request to an API server that is going away may hang instead of failing.
FETCH_TIMEOUT_SECONDS = 10.0
# index id -> {namespace or "": iterable of cached objects}
Indexes = Mapping[str, Mapping[str, Iterable[dict[str, Any]]]]

# The last answer to each service request, the inputs it was asked under
# (service_request.answer_key) and how many answers in a row under those inputs failed: the
# client pod's own events wake the lab, and must not start another client pod.
_answers: dict[RequestNeed, tuple[tuple[Any, ...], RequestAnswer, int]] = {}
# The client pod of each request being asked in the background.
_asking: dict[RequestNeed, asyncio.Task[RequestAnswer]] = {}
# How long a request's client pod may take to start and answer. Asked in the background, so a
# slow one holds up no grading; on a loaded 2-core kind node pods took 40 s to start, and at
# 30 s every answer timed out, so a correct fix was never Solved.
REQUEST_POD_SECONDS = 90.0
# How soon a failed HTTPS request through a node agent is made again: it costs the agent a
# handshake, and a certificate fixed in a Secret (which no watch here sees) must be noticed.
HTTPS_RETRY_SECONDS = 2.0
# The newest read of each fresh need through the API, and when it was sent (monotonic).
_fresh: dict[ObjectsNeed, tuple[float, asyncio.Task[list[dict[str, Any]]]]] = {}


async def fresh_list(kube: Kube, need: ObjectsNeed, not_before: float) -> list[dict[str, Any]]:
    """`need` read through the API by a request sent at `not_before` or later: one already on
    its way is shared, so labs graded at the same moment (a class fixing the same lab) do not
    each list every RBAC object of the cluster (nor each binding subject its own list)."""
    if need.subjects:
        return with_subjects(await fresh_list(kube, replace(need, subjects=()), not_before), need)
    known = _fresh.get(need)
    if known is None or known[0] < not_before:
        task = asyncio.ensure_future(kube.list_objects(need.api_version, need.kind, need.namespace))

        def done(finished: asyncio.Task[list[dict[str, Any]]]) -> None:
            # A read is shared while it is in flight, not after: a later one may be newer.
            if need in _fresh and _fresh[need][1] is finished:
                del _fresh[need]

        task.add_done_callback(done)
        known = _fresh[need] = (time.monotonic(), task)
    return await asyncio.shield(known[1])


def with_subjects(objs: list[dict[str, Any]], need: ObjectsNeed) -> list[dict[str, Any]]:
    """The bindings among `objs` that name one of `need`'s subjects (all, if it names none)."""
    if not need.subjects:
        return objs
    wanted = set(need.subjects)
    return [o for o in objs if binding_keys(o) & wanted]


def cached(indexes: Indexes, need: ObjectsNeed) -> list[dict[str, Any]] | None:
    watched = BY_API_KIND.get((need.api_version, need.kind))
    if watched is None or watched.index_id not in indexes:
        return None
    index = indexes[watched.index_id]
    if not getattr(index, "ready", True):
        # An informer that has not listed its kind yet.
        return None
    if need.subjects:
        by_keys = getattr(index, "by_keys", None)
        found: list[dict[str, Any]] | None = (
            by_keys(need.subjects) if by_keys is not None and need.namespace == "" else None
        )
        if found is not None:
            return found
        objs = cached(indexes, replace(need, subjects=()))
        return None if objs is None else with_subjects(objs, need)
    # An informer's store holds one object per name by construction; Kopf's may hold ghosts.
    newest = (lambda objs: objs) if getattr(index, "exact", False) else newest_per_name
    if watched.namespaced and need.namespace == "":
        return newest([obj for store in index.values() for obj in store])
    if watched.namespaced and not (watched.all_namespaces or watched_namespace(need.namespace)):
        return None
    return newest(list(index.get(need.namespace if watched.namespaced else "", ())))


async def settled(indexes: Indexes, need: ObjectsNeed, not_before: float) -> bool:
    """Whether the cache of `need`'s kind holds every change made before `not_before`
    (monotonic), as its informer's fence vouches (kube/informer.py)."""
    watched = BY_API_KIND.get((need.api_version, need.kind))
    index = indexes.get(watched.index_id) if watched else None
    settle = getattr(index, "settle", None)
    return settle is not None and bool(await settle(not_before))


def _age_key(obj: dict[str, Any]) -> tuple[str, int]:
    meta = obj.get("metadata") or {}
    version = str(meta.get("resourceVersion") or "0")
    return str(meta.get("creationTimestamp") or ""), int(version) if version.isdigit() else 0


def newest_per_name(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One object per namespace and name, the newest. Kopf's indexes drop an object only on its
    DELETED event, and a listing after a broken watch (an API server a lab restarted) does not
    remove what it no longer finds: a static pod's mirror, deleted and made again meanwhile,
    stayed in the cache beside its successor, and the old one's flags were graded."""
    names = {((o.get("metadata") or {}).get("namespace"), name_of(o)) for o in objs}
    if len(names) == len(objs):
        return objs
    newest: dict[tuple[Any, str], dict[str, Any]] = {}
    for obj in objs:
        key = ((obj.get("metadata") or {}).get("namespace"), name_of(obj))
        if key not in newest or _age_key(obj) >= _age_key(newest[key]):
            newest[key] = obj
    return list(newest.values())


async def gather(
    kube: Kube,
    indexes: Indexes,
    needs: list[Need],
    agent: AgentClient | None = None,
    wake: Callable[[], None] | None = None,
    confirm: bool = False,
    woken_at: float | None = None,
) -> Snapshot:
    """What `needs` ask for, from the watch cache where it has it, and with `confirm` the needs
    marked fresh from the API. `wake` is how a slow answer (a request through a Service) calls
    the lab back when it is in, instead of being waited for."""
    snapshot = Snapshot(now=time.time(), woken_at=woken_at)
    started = time.monotonic()

    async def fetch(need: Need) -> None:
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
                if isinstance(need, ObjectsNeed) and need.names:
                    found = await asyncio.gather(
                        *(
                            kube.get(need.api_version, need.kind, name, need.namespace or None)
                            for name in need.names
                        )
                    )
                    snapshot.objects[need] = [o for o in found if o is not None]
                elif isinstance(need, ObjectsNeed):
                    if need.fresh and confirm:
                        objs = (
                            cached(indexes, need) if await settled(indexes, need, started) else None
                        )
                    else:
                        objs = cached(indexes, need)
                    if objs is None:
                        objs = await fresh_list(kube, need, started)
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
                elif isinstance(need, AdmissionNeed):
                    snapshot.admissions[need] = await kube.admits(
                        json.loads(need.body), need.namespace
                    )
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
                elif isinstance(need, AuditNeed):
                    address = await _agent_address(kube, indexes, need.node)
                    snapshot.audits[need] = await (agent or AgentClient.from_env()).audited(
                        address, need.kubeconfig, need.get, need.log
                    )
                elif isinstance(need, EtcdSnapshotNeed):
                    address = await _agent_address(kube, indexes, need.node)
                    snapshot.etcd_snapshots[need] = await (
                        agent or AgentClient.from_env()
                    ).snapshot(address, need.path, need.markers)
                elif isinstance(need, PatchAsNeed):
                    address = await _agent_address(kube, indexes, need.node)
                    snapshot.patches[need] = await (agent or AgentClient.from_env()).dry_run_patch(
                        address, need.kubeconfig, need.path, json.loads(need.body)
                    )
                elif isinstance(need, CredentialNeed):
                    address = await _agent_address(kube, indexes, need.node)
                    snapshot.identities[(need.node, need.kubeconfig, need.get)] = await (
                        agent or AgentClient.from_env()
                    ).whoami(address, need.kubeconfig, need.get)
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

    later = (LogsNeed, EvictionNeed, RequestNeed, PodsAdmissionNeed)
    await asyncio.gather(*(fetch(n) for n in needs if not isinstance(n, later)))
    # Logs and evictions come last: which pods to ask about depends on the pods just gathered.
    for need in needs:
        if isinstance(need, EvictionNeed):
            try:
                for pod in _selected(snapshot, need.namespace, need.selector):
                    name = pod["metadata"]["name"]
                    snapshot.evictions[(need.namespace, name)] = await kube.evict_dry_run(
                        need.namespace, name
                    )
            except ApiException as exc:
                snapshot.errors[need] = f"{exc.status} {exc.reason}"
            except (OSError, TimeoutError) as exc:
                snapshot.errors[need] = f"the API server does not answer: {exc}"
        elif isinstance(need, PodsAdmissionNeed):
            try:
                for pod in _selected(snapshot, need.namespace, need.selector):
                    key = (need.namespace, pod["metadata"]["name"])
                    snapshot.pod_admissions[key] = await kube.admits(
                        resubmitted(pod, need.namespace), need.namespace
                    )
            except ApiException as exc:
                snapshot.errors[need] = f"{exc.status} {exc.reason}"
            except (OSError, TimeoutError) as exc:
                snapshot.errors[need] = f"the API server does not answer: {exc}"
    for need in needs:
        if isinstance(need, RequestNeed):
            answer = await _request(kube, snapshot, need, wake)
            if answer is not None:
                snapshot.requests[need] = answer
    for need in needs:
        if isinstance(need, LogsNeed):
            try:
                for pod in _selected(snapshot, need.namespace, need.selector):
                    name = pod["metadata"]["name"]
                    text = await kube.logs(need.namespace, name, need.container)
                    snapshot.logs[(need.namespace, name, need.container or "")] = text
            except (OSError, TimeoutError) as exc:
                snapshot.errors[need] = f"the API server does not answer: {exc}"
    return snapshot


def _selected(
    snapshot: Snapshot, namespace: str, selector: tuple[tuple[str, str], ...]
) -> list[dict[str, Any]]:
    """The live pods of `namespace` just gathered that match `selector`."""
    wanted = dict(selector)
    return [p for p in live(snapshot.list("v1", "Pod", namespace)) if labels_match(p, wanted)]


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


async def _request(
    kube: Kube, snapshot: Snapshot, need: RequestNeed, wake: Callable[[], None] | None
) -> RequestAnswer | None:
    """The answer to a request through the Service's cluster IP: reused while the Service, its
    EndpointSlices and the namespace's policies are unchanged and it is recent, else asked
    again from a new client pod.

    With `wake`, the client pod runs in the background and `wake` is called once its answer is
    in: a pod takes seconds to start (tens on a busy node), and the lab's other checks must not
    wait for it. Meanwhile the last answer asked under the same inputs stands (with no time to
    look again: the wake-up is that time), and there is none if the inputs changed since."""
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
        *(versions(snapshot.list(*listed)) for listed in need.depends_on),
    )
    known = _answers.get(need)
    if known and known[0] == key and snapshot.now - known[1].at < known[1].fresh_for:
        return known[1]
    if need.trust is not None:
        # A node agent answers in milliseconds: asked in the grading, no pod to wait for.
        return await _ask_https(snapshot, need, key, target)
    if wake is None:
        return await _ask(kube, need, key, target, snapshot.now)
    asking = _asking.get(need)
    if asking is None or asking.done():
        # One client pod at a time per request: the answer under inputs that have changed
        # since is stored under those, and its wake-up starts the next pod.
        task = asyncio.create_task(_ask(kube, need, key, target, snapshot.now))
        task.add_done_callback(lambda _: wake())
        _asking[need] = task
    if known and known[0] == key:
        return replace(known[1], fresh_for=0.0)
    return None


async def _ask(
    kube: Kube, need: RequestNeed, key: tuple[Any, ...], target: tuple[str, int], now: float
) -> RequestAnswer:
    name = f"breakfix-request-{secrets.token_hex(4)}"
    dialled = f"{target[0]}:{target[1]}"
    try:
        log = await kube.run_pod(
            need.client,
            probe_pod(name, target, need.path, need.attempts, need.contains, need.host),
            REQUEST_POD_SECONDS,
        )
        answer = parse_probe_log(log, target, now)
    except ApiException as exc:
        why = f"the client pod could not run: {exc.status} {exc.reason}"
        answer = RequestAnswer(False, why, dialled, now)
    except (TimeoutError, OSError) as exc:
        why = (
            "the client pod did not finish within 30s"
            if isinstance(exc, TimeoutError)
            else f"the API server does not answer: {exc}"
        )
        answer = RequestAnswer(False, why, dialled, now)
    known = _answers.get(need)
    failures = 0 if answer.ok else 1 + (known[2] if known and known[0] == key else 0)
    answer = replace(answer, fresh_for=answer_lifetime(answer.ok, failures))
    _answers[need] = (key, answer, failures)
    return answer


def agent_node(nodes: list[dict[str, Any]]) -> str | None:
    """The address of a node whose agent can make a request: a Ready one, the control plane's
    first (namespace labs never break it)."""

    def rank(node: dict[str, Any]) -> tuple[bool, bool, str]:
        conditions = (node.get("status") or {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        labels = (node.get("metadata") or {}).get("labels") or {}
        control = "node-role.kubernetes.io/control-plane" in labels
        return not ready, not control, name_of(node)

    for node in sorted(live(nodes), key=rank):
        address = node_address(node)
        if address:
            return address
    return None


async def _ask_https(
    snapshot: Snapshot, need: RequestNeed, key: tuple[Any, ...], target: tuple[str, int]
) -> RequestAnswer:
    """The answer to an HTTPS request a node agent makes: asked again while it fails every
    `HTTPS_RETRY_SECONDS`, as the controller loads a certificate a moment after its Secret is
    made (and Secrets are not watched: a Secret made right wakes no lab)."""
    dialled = f"{target[0]}:{target[1]}"
    address = agent_node(snapshot.list("v1", "Node", ""))
    assert need.trust is not None and need.host is not None
    try:
        if address is None:
            raise AgentError("no Ready node with an InternalIP to ask its node agent")
        said = await AgentClient.from_env().https_get(
            address, target, need.host, need.path or "/", need.trust, need.attempts
        )
        answer = RequestAnswer(
            bool(said.get("ok")),
            str(said.get("output") or "")[:2000],
            dialled,
            snapshot.now,
            str(said.get("attempt") or ""),
        )
    except AgentError as exc:
        answer = RequestAnswer(False, str(exc), dialled, snapshot.now)
    answer = replace(answer, fresh_for=ANSWER_SECONDS if answer.ok else HTTPS_RETRY_SECONDS)
    _answers[need] = (key, answer, 0)
    return answer


def forget_requests(namespace: str) -> None:
    """A lab that ends takes its answers with it, and stops the client pods still asking."""
    for need in [n for n in _answers.keys() | _asking.keys() if n.client == namespace]:
        _answers.pop(need, None)
        task = _asking.pop(need, None)
        if task is not None:
            task.cancel()
