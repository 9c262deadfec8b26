"""One operator acts at a time. A Lease elects it; any other (a second replica, a `make run`
beside the chart's, a self-test's in-process operator) waits as a standby and takes over when the
leader stops: at once when it stops cleanly (it gives the Lease up), or LEASE_SECONDS after its
last renewal when it is killed. Two operators acting at once provision a Lab twice and undo each
other's status.

client-go's algorithm: a standby times the Lease by its own clock, from the last change it saw,
so clocks need not agree; updates carry the resourceVersion, so two standbys never both win.
kubernetes_asyncio ships an elector, but a leader that cannot reach the API server for 10 s steps
down there, and a standby that meets a refused connection stops campaigning. Control-plane labs
take the API server away for minutes: a leader here keeps acting through an outage, and steps
down only when it sees another holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from aiohttp import web

from breakfix.kube.client import ApiException, Kube, transient

LEASE_NAME = "breakfix-operator"
# On the operator's own pod: `leader` or `standby`. Services that reach what only the leader
# serves (the dashboard) select `leader`.
ROLE_LABEL = "breakfix.dev/role"
# The chart's namespace; a local operator joins the same election.
DEFAULT_NAMESPACE = "breakfix-system"
LEASE_SECONDS = 15
RENEW_SECONDS = 5
RETRY_SECONDS = 2
API_TIMEOUT_SECONDS = 5

logger = logging.getLogger("breakfix.leader")


def lease_namespace() -> str:
    return os.environ.get("BREAKFIX_LEASE_NAMESPACE") or DEFAULT_NAMESPACE


def candidate_identity() -> str:
    """The pod's name in a cluster (its hostname), and the process: unique among candidates.
    A container the kubelet restarts keeps both (the process is PID 1), so it takes its own
    Lease back at once."""
    return f"{socket.gethostname()}_{os.getpid()}"


COORDINATION = "coordination.k8s.io/v1"


def micro_time(when: datetime) -> str:
    """A Lease's timestamps are MicroTime: RFC 3339 with microseconds."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Election:
    def __init__(self, kube: Kube, identity: str, namespace: str) -> None:
        self.kube, self.identity, self.namespace = kube, identity, namespace
        self.leading = asyncio.Event()
        self.lost = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        # The other holder's record as last seen, and when (by this process's clock).
        self._seen: tuple[Any, ...] | None = None
        self._seen_at = 0.0

    async def start(self) -> None:
        await self._ensure_namespace()
        self.task = asyncio.create_task(self._campaign())

    async def _campaign(self) -> None:
        while True:
            try:
                async with asyncio.timeout(API_TIMEOUT_SECONDS):
                    held: bool | None = await self.try_lead()
            except Exception as exc:
                if not transient(exc):
                    raise
                held = None  # the API server does not answer: a leader goes on leading
            if held:
                self.leading.set()
            elif held is False and self.leading.is_set():
                self.lost.set()
                return
            await asyncio.sleep(RENEW_SECONDS if self.leading.is_set() else RETRY_SECONDS)

    async def _lease(self) -> dict[str, Any] | None:
        return await self.kube.get(COORDINATION, "Lease", LEASE_NAME, self.namespace)

    async def try_lead(self) -> bool:
        """One attempt to take or renew the Lease: whether this candidate holds it now."""
        now = datetime.now(UTC)
        lease = await self._lease()
        if lease is None:
            body = {
                "apiVersion": COORDINATION,
                "kind": "Lease",
                "metadata": {"name": LEASE_NAME, "namespace": self.namespace},
                "spec": self._spec(now, micro_time(now), 0),
            }
            try:
                await self.kube.create(body, self.namespace)
            except ApiException as race:
                if race.status == 409:
                    return False
                raise
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        transitions = spec.get("leaseTransitions") or 0
        acquired = spec.get("acquireTime") or micro_time(now)
        if holder != self.identity:
            record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"))
            if holder and (self._seen or ("",))[0] != holder:
                # Said once per holder, from the read the campaign makes anyway.
                logger.info(
                    f"standby: the Lease {self.namespace}/{LEASE_NAME} is held by {holder}; "
                    "taking over when it is given up or lapses"
                )
            if record != self._seen:
                self._seen, self._seen_at = record, time.monotonic()
            lapses = spec.get("leaseDurationSeconds") or LEASE_SECONDS
            if holder and time.monotonic() - self._seen_at < lapses:
                return False
            transitions, acquired = transitions + 1, micro_time(now)
        lease["spec"] = self._spec(now, acquired, transitions)
        try:
            # The resourceVersion read above makes this fail if another got there first.
            await self.kube.replace(lease, self.namespace)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def _spec(self, now: datetime, acquired: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": LEASE_SECONDS,
            "acquireTime": acquired,
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        }

    async def holder(self) -> str | None:
        try:
            async with asyncio.timeout(API_TIMEOUT_SECONDS):
                lease = await self._lease()
        except Exception:
            return None
        return ((lease or {}).get("spec") or {}).get("holderIdentity")

    async def release(self) -> None:
        """Give the Lease up, so a standby takes over now instead of when it lapses."""
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        try:
            async with asyncio.timeout(API_TIMEOUT_SECONDS):
                lease = await self._lease()
                spec = (lease or {}).get("spec") or {}
                if lease and spec.get("holderIdentity") == self.identity:
                    # As client-go gives a Lease up: no holder, and a lease that lapses at once.
                    lease["spec"] = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1}
                    await self.kube.replace(lease, self.namespace)
                    logger.info(f"gave up the Lease {self.namespace}/{LEASE_NAME}")
        except Exception as exc:
            logger.warning(f"could not give up the Lease (a standby waits for it to lapse): {exc}")

    async def _ensure_namespace(self) -> None:
        """Where the chart is not installed (a local operator on a bare cluster)."""
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        try:
            await self.kube.create(body)
        except ApiException as exc:
            if exc.status not in (403, 409):  # exists, or not ours to create: the Lease tells
                raise


async def mark_role(kube: Kube, role: str) -> None:
    """Label this operator's pod with its role (in a pod only: POD_NAME from the downward API).
    A container restarted after losing the Lease keeps its pod's labels, so a standby marks
    itself as well. A failure is logged, not fatal: the election does not depend on it."""
    pod = os.environ.get("POD_NAME")
    if not pod:
        return
    patch = {"metadata": {"labels": {ROLE_LABEL: role}}}
    try:
        async with asyncio.timeout(API_TIMEOUT_SECONDS):
            # The chart runs the operator in the namespace its Lease is in.
            await kube.patch("v1", "Pod", pod, patch, "merge", lease_namespace())
    except Exception as exc:
        logger.warning(f"could not label pod {pod} {ROLE_LABEL}={role}: {exc}")


async def _first(*aws: Awaitable[object]) -> None:
    tasks = {asyncio.ensure_future(a) for a in aws}
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()


@contextlib.asynccontextmanager
async def standby_probe(url: str | None) -> AsyncIterator[None]:
    """Answer the liveness and readiness probes while waiting: a standby is healthy. Closed
    before the operator starts, which serves the same address itself."""
    if not url:
        yield
        return
    where = urlparse(url)

    async def healthy(_: web.Request) -> web.Response:
        return web.json_response({"standby": True})

    app = web.Application()
    app.router.add_get(where.path or "/", healthy)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, where.hostname, where.port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def run_elected(
    kube: Kube,
    operate: Callable[[asyncio.Event, asyncio.Event], Coroutine[Any, Any, None]],
    probe_url: str | None = None,
    identity: str | None = None,
) -> int:
    """Wait to lead, then `operate(stop, ready)` until it returns (a signal) or the Lease is lost
    (then `stop` is set, and the exit code is 1: the container starts again, as a standby).
    `operate` sets `ready` once it serves: only then is the pod labelled leader."""
    election = Election(kube, identity or candidate_identity(), lease_namespace())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)  # while standby; Kopf installs its own
    async with standby_probe(probe_url):
        await mark_role(kube, "standby")
        await election.start()
        assert election.task is not None
        await _first(election.leading.wait(), stop.wait(), asyncio.shield(election.task))
    if election.task.done():
        election.task.result()  # a refusal (RBAC, say) ends the campaign: say so
    if stop.is_set():
        await election.release()
        return 0
    logger.info(f"leading: holds {election.namespace}/{LEASE_NAME} as {election.identity}")
    ready = asyncio.Event()
    operator = asyncio.create_task(operate(stop, ready))
    lost = asyncio.create_task(election.lost.wait())
    # The dashboard's Service selects the leader: labelled before its startup is done (caches
    # filled, dashboard listening), the pod would take connections it refuses, and a
    # `kubectl port-forward` through the Service ends at the first refused one.
    await _first(
        ready.wait(), asyncio.shield(operator), asyncio.shield(lost), asyncio.shield(election.task)
    )
    if ready.is_set():
        await mark_role(kube, "leader")
    # A campaign that ends in an error renews no more: as good as lost.
    ended = {operator, lost, election.task}
    done, _ = await asyncio.wait(ended, return_when=asyncio.FIRST_COMPLETED)
    if operator in done:
        lost.cancel()
        await election.release()
        operator.result()
        return 0
    logger.error(f"lost the Lease to {await election.holder()}: stopping, so two never act at once")
    stop.set()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(operator, 30)
    return 1


@contextlib.asynccontextmanager
async def leading_or_refused(kube: Kube) -> AsyncIterator[None]:
    """For an operator run inside another program (the self-test's): lead now, or say who
    does, instead of waiting as a standby."""
    election = Election(kube, candidate_identity(), lease_namespace())
    await election.start()
    assert election.task is not None
    try:
        async with asyncio.timeout(LEASE_SECONDS + 2 * RETRY_SECONDS):
            await _first(election.leading.wait(), asyncio.shield(election.task))
        if election.task.done():
            election.task.result()
    except TimeoutError:
        holder = await election.holder()
        await election.release()
        raise RuntimeError(
            f"another breakfix operator leads ({holder}, Lease {election.namespace}/"
            f"{LEASE_NAME}): use it (--operator external), or stop it first"
        ) from None
    try:
        yield
    finally:
        await election.release()
