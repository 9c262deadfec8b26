"""One Lab's life, executed: observe, `decide()`, run the actions, write the status diff.

Every decision is made by the pure `breakfix.lab.decide.decide`; this module only reads the
watch cache, runs what it is asked to (API calls, Events, waits) and feeds the answers back.
Level-based: each step starts from the Lab as it is now and the status as last written, so an
operator killed at any point picks up where it was without duplicating or losing anything.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from breakfix import API_VERSION
from breakfix.checks.snapshot import ObjectsNeed, Snapshot
from breakfix.controller import metrics
from breakfix.controller.signals import Signals
from breakfix.kube.agent import AgentClient, AgentError
from breakfix.kube.client import ApiException, Kube, Settling, transient
from breakfix.kube.gather import Indexes, forget_requests, gather, newest_per_name
from breakfix.kube.nodes import (
    apply_changes,
    apply_objects,
    apply_on_host,
    record_objects,
    revert_changes,
)
from breakfix.kube.provision import (
    apply_manifests,
    claimed_by_other,
    lab_namespaces,
    learner_cluster_access,
    learner_namespace_access,
    namespace_object,
    teardown,
    wait_gone,
)
from breakfix.lab import reasons
from breakfix.lab.actions import (
    Action,
    Decision,
    Gather,
    LookUpLab,
    PostEvent,
    Provision,
    Provisioned,
    Subscribe,
    TearDown,
    WriteStatus,
)
from breakfix.lab.conditions import Status, is_true
from breakfix.lab.decide import decide
from breakfix.lab.observed import Observed, Timing
from breakfix.lab.status import events_between
from breakfix.scenario.template import namespace_for

EventPoster = Callable[[str, str, str], Awaitable[None]]


@dataclass(frozen=True)
class LoopSettings:
    safety_seconds: float = 300.0
    # A wake-up this soon after the last grading is part of a burst (a rollout emits dozens of
    # events, one `kubectl apply` of several objects one each): it is graded once the burst
    # pauses, for twice the time between its last two events (at least `quiet_seconds`, at
    # most `debounce_seconds`), and at the latest `burst_cap_seconds` after it woke. One after
    # a quiet spell (a learner's fix) is graded at once. A fixed 50 ms debounce cost a fix of
    # two objects made 8 ms apart 50 ms; the burst's own pace costs it 16.
    burst_seconds: float = 1.0
    quiet_seconds: float = 0.005
    debounce_seconds: float = 0.05
    burst_cap_seconds: float = 0.2
    # Lab steps in flight at once, across all labs. Unbounded, 500 labs starting together
    # (an operator restart, a class arriving) held 500 sets of API answers in memory at once:
    # the chart's 384 MiB limit killed the operator, which then met the same burst again; and
    # the busy event loop timed out its own connections and its liveness probe.
    steps_at_once: int = 16
    retry_seconds: float = 30.0
    # Benchmark baseline only: behave like a simple polling lab operator, re-reading everything
    # from the API every `poll_seconds` and ignoring watch events.
    poll_seconds: float | None = None


def solves(decision: Decision, written: Status) -> bool:
    """Whether `decision` writes a Solved=True that the written status does not have yet."""
    return not is_true(written, reasons.SOLVED) and any(
        isinstance(action, WriteStatus) and is_true(action.status, reasons.SOLVED)
        for action in decision.actions
    )


def reads_fresh(snapshot: Snapshot) -> bool:
    """Whether a grading read needs marked fresh: one that did not reads the same cache again
    when it confirms, so it has nothing to confirm."""
    return any(need.fresh for need in snapshot.objects) or any(
        isinstance(need, ObjectsNeed) and need.fresh for need in snapshot.errors
    )


def status_patch(old: Status, new: Status) -> Status:
    """A JSON merge patch turning `old` into `new` (removed keys become null)."""
    patch: Status = {k: v for k, v in new.items() if old.get(k) != v}
    patch.update({k: None for k in old if k not in new})
    return patch


UNSYNCED_RETRY_SECONDS = 2.0
# A step the API server failed is tried again this soon, doubling up to the cap: left to Kopf,
# the whole daemon would start again only after its 60 s back-off, and a fix made meanwhile
# would wait for it.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 4.0


def retry_delay(failures: int) -> float:
    """How long to wait after the `failures`-th step in a row the API server failed."""
    return float(min(RETRY_FIRST_SECONDS * 2 ** max(failures - 1, 0), RETRY_MAX_SECONDS))


# An API server going away may leave a request hanging rather than refused.
API_TIMEOUT_SECONDS = 10.0
# How long after a lab changed the control plane's files a refusal of the operator's own
# request (401/403) is the restarted API server's empty authorizer caches, not an answer.
SETTLING_SECONDS = 90.0


class LabLoop:
    def __init__(
        self,
        *,
        kube: Kube,
        signals: Signals,
        settings: LoopSettings,
        body: Mapping[str, Any],
        indexes: Indexes,
        scenarios: Mapping[str, Any],
        post_event: EventPoster,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
        agent: AgentClient | None = None,
        steps: asyncio.Semaphore | None = None,
    ) -> None:
        self.kube, self.signals, self.settings = kube, signals, settings
        self.steps = steps or asyncio.Semaphore(settings.steps_at_once)
        self.agent = agent or AgentClient.from_env()
        self.body, self.indexes, self.scenarios = body, indexes, scenarios
        self.post_event, self.logger = post_event, logger
        self.name: str = body["metadata"]["name"]
        self.namespace = namespace_for(self.name)
        self.timing = Timing(settings.safety_seconds, settings.retry_seconds)
        # Neither is ever changed in place, only replaced: while they are equal they are one
        # object, and once the watch brings a written status back, Kopf's copy of it
        # (`share_written`): a status is about 7 KiB in memory, at 2,000 labs 14 MiB a copy.
        self.written: Status = body.get("status") or {}
        # As last decided: ahead of `written` while the API server does not answer (a lab that
        # took it down), and written in one patch when it answers again.
        self.decided: Status = self.written
        self.solved = False
        self.confirming = False
        # When this loop first changed the control plane's files (monotonic), if it did.
        self.control_plane_changed: float | None = None
        # When the last step started (epoch seconds): a wake-up after it is timed to the next.
        self.stepped_at = 0.0

    def share_written(self) -> None:
        """The Lab as the watch delivered it holds the status as written: keep that one."""
        live = self.body.get("status")
        if live is None or live is self.written or live != self.written:
            return
        if self.decided is self.written:
            self.decided = live
        self.written = live

    async def run(
        self, stopped: Callable[[], bool], stop_waiter: Callable[[], Awaitable[Any]]
    ) -> None:
        metrics.LABS_ACTIVE.inc()
        # Listen before the first step: a scenario's pods appear while it is still running, and
        # an event with nobody listening would leave the lab waiting for its safety timer.
        self.signals.flag(self.name)
        failures = 0
        try:
            while not stopped():
                try:
                    async with self.steps:
                        wake_at = await self.step()
                except Exception as exc:
                    if not transient(exc):
                        raise
                    failures += 1
                    await self._retry_later(exc, failures, stop_waiter)
                    continue
                if failures:
                    self.logger.info(f"the API server answers again, after {failures} retries")
                    failures = 0
                if self.decided != self.written:
                    # Nothing is watched while the API server is away: look again soon.
                    wake_at = min(wake_at, time.time() + UNSYNCED_RETRY_SECONDS)
                if self.settings.poll_seconds:
                    await self.signals.wait(
                        f"poll:{self.name}", self.settings.poll_seconds, stop_waiter()
                    )
                    continue
                graded = time.monotonic()
                await self.signals.wait(self.name, wake_at - time.time(), stop_waiter())
                if not stopped() and time.monotonic() - graded < self.settings.burst_seconds:
                    await self._burst_pause()
        finally:
            self.signals.unsubscribe(self.name)
            forget_requests(self.namespace)
            metrics.LABS_ACTIVE.dec()
            self._count_solved(False)

    async def _burst_pause(self) -> None:
        """Wait for the burst of events that woke the loop to pause."""
        settings = self.settings
        cap = time.monotonic() + settings.burst_cap_seconds
        while (left := cap - time.monotonic()) > 0:
            gap = self.signals.gap(self.name)
            quiet = settings.debounce_seconds if gap is None else 2 * gap
            quiet = min(max(quiet, settings.quiet_seconds), settings.debounce_seconds)
            # Quiet since the last event, not since this wait began: the grading just done
            # took some of it already.
            last = self.signals.woken_at(self.name)
            if last is not None:
                quiet -= max(0.0, time.time() - last)
            if quiet <= 0 or not await self.signals.wait(self.name, min(quiet, left), None):
                return

    async def _retry_later(
        self, exc: BaseException, failures: int, stop_waiter: Callable[[], Awaitable[Any]]
    ) -> None:
        delay = retry_delay(failures)
        metrics.STEP_RETRIES.inc()
        # Once per outage at warning level: a thousand labs would otherwise log each retry.
        log = self.logger.warning if failures == 1 else self.logger.debug
        log(f"the API server failed a step ({type(exc).__name__}: {exc}); again in {delay:.1f}s")
        # A watch event (the API server back, a fix) wakes it sooner.
        await self.signals.wait(self.name, delay, stop_waiter())

    async def step(self) -> float:
        """Decide and act until the decision says when to wake; returns that time."""
        metrics.EVALUATIONS.inc()
        woken_at = self.signals.woken_at(self.name)
        if woken_at is not None and woken_at > self.stepped_at:
            metrics.GRADING_STAGE.labels("wake").observe(max(0.0, time.time() - woken_at))
        self.stepped_at = time.time()
        seen = await self._observe()
        self.confirming = False
        while True:
            decision = decide(seen, self.timing)
            if (
                not self.confirming
                and seen.checks is not None
                and reads_fresh(seen.checks)
                and solves(decision, self.written)
            ):
                # Graded from the watch cache, which may lag a moment behind what the checks
                # that ask the API live (access reviews, evictions) already see: a lab is
                # solved only by a grading that read its fresh needs as they are now, through
                # the API or from a cache its informer's fence vouches for.
                self.confirming = True
                metrics.SOLVE_CONFIRMATIONS.inc()
                seen = replace(seen, checks=None)
                continue
            for action in decision.actions:
                seen = await self._run(action, seen)
            if decision.wake_at is not None:
                if seen.checks is not None:
                    for entry in decision.status.get("checks") or []:
                        metrics.CHECKS_EVALUATED.labels(
                            "passed" if entry["passed"] else "failed"
                        ).inc()
                return decision.wake_at
            seen = replace(seen, status=decision.status)

    async def _observe(self) -> Observed:
        status = copy.deepcopy(self.decided)
        return Observed(
            name=self.name,
            generation=int(self.body["metadata"].get("generation", 1)),
            spec=dict(self.body.get("spec") or {}),
            status=status,
            scenarios=self.scenarios,
            nodes=list(self.indexes.get("cache_nodes", {}).get("", ())),
            namespace_exists=await self._namespace_exists(status),
            now=time.time(),
            new_seed=random.randrange(1, 1_000_000),
            operator_node=os.environ.get("NODE_NAME"),
        )

    async def _run(self, action: Action, seen: Observed) -> Observed:
        """Run one action; returns what was observed, with the answer if it asked a question."""
        stage = self._stage(action)
        if stage is None:
            return await self._act(action, seen)
        with metrics.GRADING_STAGE.labels(stage).time():
            return await self._act(action, seen)

    def _stage(self, action: Action) -> str | None:
        match action:
            case Gather("checks", _) if self.confirming:
                return "confirm"
            case Gather(purpose, _):
                return purpose
        # A status write is timed in `_write`: the PATCH alone, not the Events posted after it.
        return None

    async def _act(self, action: Action, seen: Observed) -> Observed:
        match action:
            case Subscribe(scenario, kinds, namespaces):
                self.signals.subscribe(self.name, scenario, kinds, namespaces)
            case PostEvent(type_, reason, message):
                await self.post_event(type_, reason, message)
            case WriteStatus(status):
                await self._write(status)
            case LookUpLab(name):
                alive = bool(await self.kube.get(API_VERSION, "Lab", name))
                return replace(seen, labs_alive={**seen.labs_alive, name: alive})
            case TearDown(cluster_objects, node_changes, wait):
                await revert_changes(self.kube, node_changes, self.agent)
                await teardown(self.kube, self.namespace, cluster_objects)
                if wait:
                    await wait_gone(self.kube, lab_namespaces(self.namespace, cluster_objects))
            case Provision():
                return replace(seen, provisioned=await self._provision(action))
            case Gather("symptoms", needs):
                return replace(
                    seen,
                    symptoms=await gather(
                        self.kube,
                        self._read_from(),
                        [*needs],
                        self.agent,
                        self._wake,
                        woken_at=self.signals.woken_at(self.name),
                    ),
                )
            case Gather("checks", needs):
                return replace(
                    seen,
                    checks=await gather(
                        self.kube,
                        self._read_from(),
                        [*needs],
                        self.agent,
                        self._wake,
                        confirm=self.confirming,
                        woken_at=self.signals.woken_at(self.name),
                    ),
                )
        return seen

    async def _provision(self, action: Provision) -> Provisioned:
        started = time.monotonic()
        rendered, lab = action.rendered, dict(self.body)
        node_changes: list[dict[str, Any]] = []
        others = rendered.other_namespaces
        try:
            # From the watch cache: provisioning makes no extra request for a rare clash.
            cached = {
                ns["metadata"]["name"]: ns
                for ns in self.indexes.get("cache_namespaces", {}).get("", ())
            }
            for name in (self.namespace, *others):
                owner = claimed_by_other(cached.get(name), self.name)
                if owner is not None:
                    return Provisioned(
                        [], [], error=f"namespace {name} belongs to Lab {owner}: rename this Lab"
                    )
            await self.kube.apply(namespace_object(lab, self.namespace, rendered.namespace_labels))
            for name, labels in others.items():
                await self.kube.apply(namespace_object(lab, name, labels))
            changes = rendered.node_changes
            if changes is not None and action.node is not None:
                # A provisioning tried again after a crash finds the add-on objects changed
                # already: what they were is what it recorded the first time.
                prior = next(iter(action.status.get("nodeChanges") or [{}])).get("objects")
                objects = prior or await record_objects(self.kube, changes)
                record = await apply_changes(self.kube, action.node, changes, self.name)
                if objects:
                    record["objects"] = objects
                node_changes = [record]
                # Recorded before anything else, so a crash from here on still reverts the node.
                await self._write({**action.status, "nodeChanges": node_changes})
                if not changes.takes_api_server:
                    await apply_on_host(self.agent, record, changes, self.name)
                    if changes.role == "control-plane" and changes.files:
                        self.control_plane_changed = self.control_plane_changed or time.monotonic()
            # Listed with the cluster-scoped objects, so every teardown deletes them.
            cluster_objects = [
                {"apiVersion": "v1", "kind": "Namespace", "name": name} for name in others
            ]
            cluster_objects += await apply_manifests(
                self.kube, lab, self.namespace, rendered.manifests, others
            )
            if action.learner:
                for name in (self.namespace, *others):
                    for access in learner_namespace_access(action.learner, name):
                        await self.kube.apply(access, name)
                for access in learner_cluster_access(action.learner, lab, rendered.learner_rules):
                    await self.kube.apply(access)
            if node_changes:
                await apply_objects(self.kube, node_changes[0])
            if changes is not None and node_changes and changes.takes_api_server:
                # What it breaks on the node is the API server this provisioning needs.
                await apply_on_host(self.agent, node_changes[0], changes, self.name)
        except ApiException as exc:
            if transient(exc):
                # Not the scenario's fault: the step is tried again, as after a restart.
                raise
            if exc.status in (401, 403) and self._control_plane_settling():
                raise Settling(f"the API server this lab restarted refuses: {exc.reason}") from exc
            return Provisioned(node_changes, [], error=_api_error(exc))
        except (AgentError, LookupError) as exc:
            return Provisioned(node_changes, [], error=str(exc))
        metrics.PROVISIONED.inc()
        self.logger.info(
            f"provisioned {len(rendered.manifests)} objects in {self.namespace} "
            f"in {time.monotonic() - started:.2f}s"
        )
        return Provisioned(node_changes, cluster_objects)

    def _control_plane_settling(self) -> bool:
        changed = self.control_plane_changed
        return changed is not None and time.monotonic() - changed < SETTLING_SECONDS

    def _wake(self) -> None:
        self.signals.lab(self.name)

    def _read_from(self) -> Indexes:
        """The watch cache, or nothing (so every read goes to the API) when polling."""
        return {} if self.settings.poll_seconds else self.indexes

    async def _namespace_exists(self, status: Status) -> bool:
        # The newest of that name: the cache may still hold a namespace of an earlier Lab of the
        # same name, terminating, whose deletion it never saw (a watch broken by an API server
        # restart), beside this lab's own; judged by the ghost, the lab was reset in a loop.
        namespaces = newest_per_name(list(self.indexes.get("cache_namespaces", {}).get("", ())))
        for ns in namespaces:
            if ns["metadata"]["name"] == self.namespace:
                return not ns["metadata"].get("deletionTimestamp")
        if not status.get("provisioned"):
            return False
        # A provisioned lab's namespace missing from the cache is provisioned again: make sure.
        # The cache may lag, or be empty while the API server is away (a control-plane lab),
        # and tearing the lab down then would undo what the learner is repairing.
        try:
            async with asyncio.timeout(API_TIMEOUT_SECONDS):
                found = await self.kube.get("v1", "Namespace", self.namespace)
        except (OSError, TimeoutError, ApiException):
            return True
        return found is not None and not found["metadata"].get("deletionTimestamp")

    async def _write(self, status: Status) -> None:
        self.decided = copy.deepcopy(status)
        patch = status_patch(self.written, status)
        if not patch:
            return
        try:
            async with asyncio.timeout(API_TIMEOUT_SECONDS):
                with metrics.GRADING_STAGE.labels("write").time():
                    await self.kube.patch_status(API_VERSION, "Lab", self.name, {"status": patch})
        except (OSError, TimeoutError) as exc:
            # The API server is unreachable (a control-plane lab broke it): keep deciding from
            # what was decided, and write it all once it answers.
            self.logger.warning(f"status not written, the API server does not answer: {exc}")
            return
        metrics.STATUS_WRITES.inc()
        if "timeToSolveSeconds" in status and "timeToSolveSeconds" not in self.written:
            metrics.TIME_TO_SOLVE.observe(float(status["timeToSolveSeconds"]))
        self._count_solved(is_true(status, reasons.SOLVED))
        for type_, reason, message in events_between(self.written, status):
            await self.post_event(type_, reason, message)
        self.written = self.decided

    def _count_solved(self, solved: bool) -> None:
        if solved != self.solved:
            metrics.LABS_SOLVED.inc(1 if solved else -1)
            self.solved = solved


def _api_error(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or b"").get("message", exc.reason))
    except (TypeError, ValueError):
        return f"{exc.status} {exc.reason}"
