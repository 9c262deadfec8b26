"""Kopf handlers: the watched kinds' caches started, one loop per Lab, cleanup on delete."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from sys import intern
from typing import Any

import kopf
from aiohttp import web

from breakfix import GROUP, NAMESPACE_PREFIX, VERSION
from breakfix.checks.rbac_rights import binding_keys
from breakfix.controller.lab_loop import LabLoop, LoopSettings
from breakfix.controller.leader import lease_namespace
from breakfix.controller.signals import Signals
from breakfix.dashboard import server as dashboard
from breakfix.dashboard.board import Board
from breakfix.exam.decide import EXAM_LABEL, exam_signal
from breakfix.kube import events
from breakfix.kube.agent import AgentClient
from breakfix.kube.client import Kube
from breakfix.kube.informer import Fence, Informer, StoreIndex
from breakfix.kube.nodes import revert_changes
from breakfix.kube.provision import teardown
from breakfix.kube.watched import WATCHED, WatchedKind, watched_namespace
from breakfix.scenario.template import namespace_for


@dataclass
class Shared:
    """What the handlers share, made at startup and kept in Kopf's memo: Kopf hands each
    resource a shallow copy of the operator's memo, so these objects themselves are shared."""

    kube: Kube
    settings: LoopSettings
    signals: Signals = field(default_factory=Signals)
    agent: AgentClient = field(default_factory=AgentClient.from_env)
    # Shared by every lab loop: how many of their steps may be in flight at once.
    steps: asyncio.Semaphore = field(init=False)
    # Lab name -> the generation last seen, to wake a lab on spec changes only.
    generations: dict[str, int | None] = field(default_factory=dict)
    # Lab name -> its running loop.
    loops: dict[str, LabLoop] = field(default_factory=dict)
    # The caches of the watched kinds (kube/informer.py), by index id, and their tasks.
    informers: dict[str, Informer] = field(default_factory=dict)
    # The informers' stores as indexes, by index id: one mapping for every lab loop.
    indexes: dict[str, StoreIndex] = field(default_factory=dict)
    informer_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # The class dashboard's view of Labs, Exams and Scenarios, when it is served.
    board: Board | None = None
    dashboard: web.AppRunner | None = None

    def __post_init__(self) -> None:
        self.steps = asyncio.Semaphore(self.settings.steps_at_once)


MEMO_KEY = "breakfix"
# How long startup waits for the watched kinds' first listing before labs start anyway.
INFORMER_SYNC_SECONDS = 60.0


def shared(memo: kopf.Memo) -> Shared:
    value = memo.get(MEMO_KEY)
    if not isinstance(value, Shared):
        raise RuntimeError("the startup handler has not run: no shared state in the memo")
    return value


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy for the cache, without managedFields and last-applied annotations (the bulk of most
    objects), every string interned: the same keys, kinds, labels, images and the CA bundle that
    every namespace's kube-root-ca.crt holds are then one object each, not one per cached object
    (about half the cache's memory with thousands of labs). Interned strings are freed with the
    last object that holds them."""
    meta = {k: v for k, v in body.get("metadata", {}).items() if k != "managedFields"}
    annotations = meta.get("annotations")
    if annotations and "kubectl.kubernetes.io/last-applied-configuration" in annotations:
        meta["annotations"] = {
            k: v
            for k, v in annotations.items()
            if k != "kubectl.kubernetes.io/last-applied-configuration"
        }
    return {intern(k): interned(meta if k == "metadata" else v) for k, v in body.items()}


def interned(value: Any) -> Any:
    """A deep copy of JSON data with every string interned."""
    if isinstance(value, str):
        return intern(value)
    if isinstance(value, Mapping):
        return {intern(k): interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interned(v) for v in value]
    return value


def wake_labs(signals: Signals, watched: WatchedKind, namespace: str | None, name: str) -> None:
    """Wake the labs that depend on an object of `watched` that changed."""
    if namespace is not None and not namespace.startswith(NAMESPACE_PREFIX):
        # A control-plane lab's checks read kube-system (static pods, CoreDNS); an RBAC
        # check, bindings of any namespace.
        signals.kind(watched.kind)
    elif watched.namespaced:
        signals.namespace(namespace or "")
    else:
        if watched.kind == "Namespace":
            signals.namespace(name)
        signals.kind(watched.kind)


def cached_here(watched: WatchedKind, obj: dict[str, Any]) -> bool:
    """Whether the cache of `watched` keeps `obj`: namespaced kinds in the labs' namespaces and
    kube-system (or everywhere, for the kinds a check reads across namespaces), Namespaces of
    labs only, and every object of the other cluster-scoped kinds."""
    meta = obj.get("metadata") or {}
    if watched.kind == "Namespace":
        return str(meta.get("name") or "").startswith(NAMESPACE_PREFIX)
    if not watched.namespaced or watched.all_namespaces:
        return True
    return watched_namespace(meta.get("namespace") or "")


def _informer(state: Shared, watched: WatchedKind, fence: str | None) -> Informer:
    def changed(obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        wake_labs(state.signals, watched, meta.get("namespace"), str(meta.get("name") or ""))

    return Informer(
        state.kube,
        watched,
        changed,
        functools.partial(cached_here, watched),
        slim,
        Fence(fence, lease_namespace() if watched.namespaced else None)
        if fence and watched.fenced
        else None,
        keys_of=binding_keys if watched.kind in ("RoleBinding", "ClusterRoleBinding") else None,
    )


@kopf.index(GROUP, VERSION, "scenarios")
async def scenarios(name: str, spec: kopf.Spec, **_: Any) -> dict[str, Any]:
    return {name: dict(spec)}


@kopf.on.event(GROUP, VERSION, "scenarios")
async def scenario_changed(
    name: str, body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
) -> None:
    state = shared(memo)
    state.signals.scenario(name)
    if state.board is not None:
        state.board.update("Scenario", name, None if type == "DELETED" else body)


@kopf.on.event(GROUP, VERSION, "labs")
async def lab_changed(
    name: str, body: kopf.Body, meta: kopf.Meta, type: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """Wake the lab on a spec change (hints, reset) or deletion only: our own status writes and
    Kopf's annotation and finalizer patches change nothing the lab loop reads from its Lab."""
    state = shared(memo)
    if state.board is not None:
        state.board.update("Lab", name, None if type == "DELETED" else body)
    exam = (meta.get("labels") or {}).get(EXAM_LABEL)
    if exam:
        # The exam it belongs to re-scores on every change of its labs.
        state.signals.lab(exam_signal(exam))
    if type == "DELETED":
        state.generations.pop(name, None)
        return
    loop = state.loops.get(name)
    if loop is not None:
        loop.share_written()
    generation = meta.get("generation")
    if meta.get("deletionTimestamp") or state.generations.get(name) != generation:
        state.generations[name] = generation
        state.signals.lab(name)


def _routine(record: logging.LogRecord) -> bool:
    """False for Kopf's per-event success lines of the cache and wake-up handlers: one per watch
    event on every watched kind, they drown the log and cost CPU with hundreds of labs."""
    message = record.getMessage()
    return not (
        record.levelno <= logging.INFO
        and message.startswith(
            (
                "Handler 'scenario",
                "Handler 'lab_changed",
                "Handler 'exam_changed",
                "Handler 'exam_labs",
                "Handler 'exams",
            )
        )
    )


def _retried_is_a_warning(record: logging.LogRecord) -> bool:
    """Kopf logs every failed attempt of a request it will try again as an ERROR (a connect
    timeout to the API server's Service while it restarts, one per watched kind per second):
    a warning, since the request goes on. The attempt that gives up stays an error."""
    if record.levelno == logging.ERROR and "failed; will retry:" in record.getMessage():
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


def _filter_kopf_logs() -> None:
    # A filter applies to the records of its own logger only: each of Kopf's module loggers.
    names = [n for n in logging.root.manager.loggerDict if n == "kopf" or n.startswith("kopf.")]
    for name in names:
        logger = logging.getLogger(name)
        if _retried_is_a_warning not in logger.filters:
            logger.addFilter(_retried_is_a_warning)
    objects_log = logging.getLogger("kopf.objects")
    if _routine not in objects_log.filters:
        objects_log.addFilter(_routine)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    _filter_kopf_logs()
    # Kubelet probes every few seconds: not worth a log line each.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    settings.persistence.finalizer = f"{GROUP}/cleanup"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Kopf's own log lines would otherwise become Events on every object; ours are explicit.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # An API server that is away (a restart, a control-plane lab) may leave a connection to its
    # Service IP unanswered rather than refused: a watch waits this long before it tries again,
    # and a fix made meanwhile waits with it. The TCP connect alone (TLS is not included) takes
    # well under a millisecond when it answers.
    settings.watching.connect_timeout = 1
    settings.networking.connect_timeout = 1
    settings.networking.request_timeout = 30
    # Kopf's default backs off to 13 and 21 s: a watch that failed through an outage (a
    # control-plane lab, an API server restart) would see a fix made after it that much later.
    # Every second instead, for 5 minutes, then Kopf starts the watch again.
    settings.networking.error_backoffs = [0.5, *[1] * 300]
    poll = os.environ.get("BREAKFIX_POLL_SECONDS")
    if MEMO_KEY not in memo:
        memo[MEMO_KEY] = Shared(
            kube=await Kube.connect(),
            settings=LoopSettings(
                safety_seconds=float(os.environ.get("BREAKFIX_SAFETY_SECONDS", "300")),
                poll_seconds=float(poll) if poll else None,
            ),
        )

    state = shared(memo)
    if not state.informers:
        fence = os.environ.get("BREAKFIX_FENCE_NAME") or None
        for watched in WATCHED:
            informer = state.informers[watched.index_id] = _informer(state, watched, fence)
            state.informer_tasks.append(asyncio.create_task(informer.run()))
        state.indexes = {key: informer.index for key, informer in state.informers.items()}
        # No lab starts before the caches are filled (or their kind found not served): a lab
        # graded meanwhile would read every object it needs through the API.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(INFORMER_SYNC_SECONDS):
                await asyncio.gather(*(i.answered.wait() for i in state.informers.values()))
    port = os.environ.get("BREAKFIX_DASHBOARD_PORT")
    if port and state.dashboard is None:
        token = os.environ.get("BREAKFIX_DASHBOARD_TOKEN", "")
        if not token:
            logging.getLogger(__name__).error(
                "the dashboard is not served: BREAKFIX_DASHBOARD_TOKEN is empty"
            )
        else:
            state.board = Board()
            for kind in ("Scenario", "Exam", "Lab"):
                objs = await state.kube.list_objects(f"{GROUP}/{VERSION}", kind)
                state.board.prime(kind, objs)
            stuck = 60 * float(os.environ.get("BREAKFIX_DASHBOARD_STUCK_MINUTES", "10"))
            state.dashboard = await dashboard.start(state.board, token, int(port), stuck)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    state = memo.pop(MEMO_KEY, None)
    if isinstance(state, Shared):
        for task in state.informer_tasks:
            task.cancel()
        if state.dashboard is not None:
            await state.dashboard.cleanup()
        await state.kube.close()


@kopf.daemon(GROUP, VERSION, "labs", id="lab", cancellation_timeout=5.0)
async def lab(
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    logger: kopf.Logger,
    memo: kopf.Memo,
    **kwargs: Any,
) -> None:
    state = shared(memo)

    async def post(type_: str, reason: str, message: str) -> None:
        await events.post(state.kube, dict(body), type_, reason, message)

    loop = LabLoop(
        kube=state.kube,
        signals=state.signals,
        settings=state.settings,
        body=body,
        indexes=state.indexes,
        scenarios=ScenarioIndex(kwargs["scenarios"]),
        post_event=post,
        logger=logger,
        agent=state.agent,
        steps=state.steps,
    )
    state.loops[loop.name] = loop
    try:
        await loop.run(lambda: bool(stopped), lambda: stopped.wait())
    finally:
        if state.loops.get(loop.name) is loop:
            del state.loops[loop.name]


class ScenarioIndex(Mapping[str, Any]):
    """The scenario index seen as a mapping of name to spec."""

    def __init__(self, index: kopf.Index[str, dict[str, Any]]) -> None:
        self.index = index

    def __getitem__(self, name: str) -> Any:
        store = self.index.get(name)
        if not store:
            raise KeyError(name)
        return next(iter(store))

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


@kopf.on.delete(GROUP, VERSION, "labs")
async def lab_deleted(
    name: str, status: kopf.Status, logger: kopf.Logger, memo: kopf.Memo, **_: Any
) -> None:
    """Owner references already collect the namespace; deleting it here makes it prompt, and
    the cluster-scoped objects listed in the status are removed even if their owner link broke."""
    state = shared(memo)
    # The node first: a control-plane lab may have broken what the rest of the teardown needs.
    await revert_changes(state.kube, list(status.get("nodeChanges") or []), state.agent)
    await teardown(state.kube, namespace_for(name), list(status.get("clusterObjects") or []))
    logger.info(f"lab {name} cleaned up")


# Registered after everything above: the exam handlers use this module's shared state.
import breakfix.controller.exams  # noqa: E402, F401
