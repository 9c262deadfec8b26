"""One Lab's life: provision, confirm the symptoms, then grade on every relevant change.

Level-based: each step reads the Lab as it is now and the status as last written, so an operator
killed at any point picks up where it was without duplicating or losing anything.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from breakfix.checks.check import all_needs, evaluate, wake_kinds
from breakfix.checks.models import CheckResult
from breakfix.controller import metrics
from breakfix.controller.signals import Signals
from breakfix.kube.client import ApiException, Kube
from breakfix.kube.gather import Indexes, gather
from breakfix.kube.nodes import apply_changes, holder, revert_changes, target_node
from breakfix.kube.provision import (
    apply_manifests,
    learner_binding,
    namespace_object,
    teardown,
    wait_gone,
)
from breakfix.lab.models import LabSpec
from breakfix.lab.status import (
    READY,
    SOLVED,
    Evaluation,
    Status,
    condition,
    events_between,
    graded_status,
    iso,
    parse_iso,
    set_condition,
)
from breakfix.scenario.models import ScenarioSpec
from breakfix.scenario.render import RenderedScenario, render
from breakfix.scenario.template import RenderError, namespace_for

EventPoster = Callable[[str, str, str], Awaitable[None]]

# Fields that describe one provisioning; a reset or a lost namespace clears them.
PROGRESS_FIELDS = (
    "provisioned",
    "provisionedAt",
    "observedReset",
    "clusterObjects",
    "symptoms",
    "checks",
    "passed",
    "total",
    "progress",
    "score",
    "startedAt",
    "firstSolvedAt",
    "timeToSolveSeconds",
    "regressions",
    "nodeChanges",
)


@dataclass(frozen=True)
class LoopSettings:
    safety_seconds: float = 300.0
    debounce_seconds: float = 0.05
    retry_seconds: float = 30.0
    # Benchmark baseline only: behave like a simple polling lab operator, re-reading everything
    # from the API every `poll_seconds` and ignoring watch events.
    poll_seconds: float | None = None


def status_patch(old: Status, new: Status) -> Status:
    """A JSON merge patch turning `old` into `new` (removed keys become null)."""
    patch: Status = {k: v for k, v in new.items() if old.get(k) != v}
    patch.update({k: None for k in old if k not in new})
    return patch


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
    ) -> None:
        self.kube, self.signals, self.settings = kube, signals, settings
        self.body, self.indexes, self.scenarios = body, indexes, scenarios
        self.post_event, self.logger = post_event, logger
        self.name: str = body["metadata"]["name"]
        self.namespace = namespace_for(self.name)
        self.written: Status = copy.deepcopy(dict(body.get("status") or {}))
        self.solved = False

    # --- the loop -------------------------------------------------------------------------------

    async def run(
        self, stopped: Callable[[], bool], stop_waiter: Callable[[], Awaitable[Any]]
    ) -> None:
        metrics.LABS_ACTIVE.inc()
        # Listen before the first step: a scenario's pods appear while it is still running, and
        # an event with nobody listening would leave the lab waiting for its safety timer.
        self.signals.flag(self.name)
        try:
            while not stopped():
                wake_at = await self.step()
                if self.settings.poll_seconds:
                    await self.signals.wait(
                        f"poll:{self.name}", self.settings.poll_seconds, stop_waiter()
                    )
                    continue
                await self.signals.wait(self.name, wake_at - time.time(), stop_waiter())
                # Coalesce a burst of watch events (a rollout emits dozens) into one evaluation.
                if not stopped():
                    await self.signals.wait(self.name, self.settings.debounce_seconds, None)
        finally:
            self.signals.unsubscribe(self.name)
            metrics.LABS_ACTIVE.dec()
            self._count_solved(False)

    async def step(self) -> float:
        metrics.EVALUATIONS.inc()
        now = time.time()
        status = copy.deepcopy(self.written)
        generation = int(self.body["metadata"].get("generation", 1))
        try:
            spec = LabSpec.model_validate(dict(self.body.get("spec") or {}))
        except ValidationError as exc:
            return await self._not_ready(status, generation, "InvalidSpec", _first_error(exc))
        status["namespace"] = self.namespace

        raw = self.scenarios.get(spec.scenario)
        self.signals.subscribe(self.name, spec.scenario, ())
        if raw is None:
            return await self._not_ready(
                status,
                generation,
                "ScenarioNotFound",
                f"Scenario {spec.scenario!r} does not exist; `kubectl get scenarios` lists them",
            )
        try:
            scenario = ScenarioSpec.model_validate(raw)
        except ValidationError as exc:
            return await self._not_ready(
                status,
                generation,
                "ScenarioInvalid",
                f"Scenario {spec.scenario}: {_first_error(exc)}",
            )
        node: str | None = None
        if scenario.node_changes is not None:
            node = target_node(self.indexes.get("cache_nodes", {}).get("", ()))
            if node is None:
                return await self._not_ready(
                    status, generation, "NoNodeAvailable", "no Ready node to change", retry=10.0
                )
            held = self._node_holder(node)
            busy = held and held != self.name and not status.get("provisioned")
            if busy and await self.kube.get("breakfix.dev/v1alpha1", "Lab", str(held)):
                self.signals.subscribe(self.name, spec.scenario, {"Node"})
                return await self._not_ready(
                    status,
                    generation,
                    "WaitingForExclusiveLab",
                    f"lab {held} is using node {node}; this lab starts when it is deleted",
                    retry=self.settings.safety_seconds,
                )
        if status.get("seed") is None:
            status["seed"] = spec.seed if spec.seed is not None else random.randrange(1, 1_000_000)
        try:
            rendered = render(scenario, spec.scenario, self.name, int(status["seed"]), node)
        except RenderError as exc:
            return await self._not_ready(
                status,
                generation,
                "RenderFailed",
                f"Scenario {spec.scenario} does not render: {exc}",
            )
        cluster_kinds = wake_kinds(rendered.symptoms + rendered.checks, self.namespace)
        if scenario.node_changes is not None:
            cluster_kinds.add("Node")
        self.signals.subscribe(self.name, spec.scenario, cluster_kinds)

        if status.get("provisioned") and (
            int(status.get("observedReset", 0)) != spec.reset or not self._namespace_exists()
        ):
            status = await self._reset(status, spec, generation)
        if not status.get("provisioned"):
            failed_at = status.get("provisioningFailedAt")
            if failed_at and status.get("provisioningFailedGeneration") == generation:
                # Do not hammer the API with a scenario it rejects: retry after a pause, or at
                # once when the Lab changes.
                retry_at = parse_iso(failed_at) + self.settings.retry_seconds
                if now < retry_at:
                    return retry_at
                return await self._not_ready(
                    status,
                    generation,
                    "Resetting",
                    f"waiting for namespace {self.namespace} to go away",
                    retry=2.0,
                )
            try:
                status = await self._provision(status, spec, rendered, generation, now, node)
            except ApiException as exc:
                await teardown(self.kube, self.namespace, status.get("clusterObjects") or [])
                await revert_changes(self.kube, status.pop("nodeChanges", None) or [])
                status["provisioningFailedAt"] = iso(now)
                status["provisioningFailedGeneration"] = generation
                message = f"could not create the scenario's objects: {_api_error(exc)}"
                await self.post_event("Warning", "ProvisioningFailed", message)
                return await self._not_ready(
                    status,
                    generation,
                    "ProvisioningFailed",
                    message,
                    retry=self.settings.retry_seconds,
                )

        revealed = rendered.hints[: spec.hints]
        wake = now + self.settings.safety_seconds
        if (condition(status, READY) or {}).get("status") != "True":
            status, symptoms_wake = await self._confirm_symptoms(
                status, scenario, rendered, generation
            )
            wake = min(wake, symptoms_wake)
        if (condition(status, READY) or {}).get("status") == "True":
            snapshot = await gather(
                self.kube, self._read_from(), all_needs(rendered.checks, self.namespace)
            )
            results = [evaluate(c, snapshot, self.namespace) for c in rendered.checks]
            for result in results:
                metrics.CHECKS_EVALUATED.labels("passed" if result.passed else "failed").inc()
            status = graded_status(
                status,
                Evaluation(
                    generation=generation,
                    now=snapshot.now,
                    checks=rendered.checks,
                    results=results,
                    revealed=revealed,
                    time_limit_seconds=spec.time_limit_seconds,
                ),
            )
            wake = min(wake, _next_recheck(results, wake))
            if spec.time_limit_seconds and not status.get("firstSolvedAt"):
                deadline = parse_iso(status["startedAt"]) + spec.time_limit_seconds + 1
                if deadline > now:
                    wake = min(wake, deadline)
        else:
            status["hints"] = [h.text for h in revealed]
            status["hintsUsed"] = len(revealed)
        for old_hint in range(len(self.written.get("hints") or []), len(revealed)):
            await self.post_event(
                "Normal",
                "HintRevealed",
                f"hint {old_hint + 1} of {len(rendered.hints)} revealed "
                f"(-{revealed[old_hint].cost} points)",
            )
        await self._write(status)
        return wake

    # --- phases -----------------------------------------------------------------------------------

    async def _reset(self, status: Status, spec: LabSpec, generation: int) -> Status:
        lost = (
            self._namespace_exists() is False and int(status.get("observedReset", 0)) == spec.reset
        )
        reason = "NamespaceLost" if lost else "Reset"
        message = (
            f"namespace {self.namespace} disappeared: provisioning again"
            if lost
            else f"reset {spec.reset}: deleting namespace {self.namespace} and provisioning again"
        )
        await self.post_event("Normal", reason, message)
        cluster_objects = status.get("clusterObjects") or []
        node_changes = status.get("nodeChanges") or []
        status = await self._clear(status, generation, "Resetting", message)
        await teardown(self.kube, self.namespace, cluster_objects)
        await revert_changes(self.kube, node_changes)
        await wait_gone(self.kube, self.namespace)
        return status

    async def _clear(self, status: Status, generation: int, reason: str, message: str) -> Status:
        status = {k: v for k, v in status.items() if k not in PROGRESS_FIELDS}
        conditions = set_condition(
            status.get("conditions") or [], READY, "False", reason, message, generation, time.time()
        )
        status["conditions"] = set_condition(
            conditions,
            SOLVED,
            "Unknown",
            "NotReady",
            "the lab is not ready",
            generation,
            time.time(),
        )
        await self._write(status)
        return status

    async def _provision(
        self,
        status: Status,
        spec: LabSpec,
        rendered: RenderedScenario,
        generation: int,
        now: float,
        node: str | None,
    ) -> Status:
        started = time.monotonic()
        lab = dict(self.body)
        await self.kube.apply(namespace_object(lab, self.namespace, rendered.namespace_labels))
        if rendered.node_changes is not None and node is not None:
            # Recorded before anything else, so a crash from here on still reverts the node.
            record = await apply_changes(self.kube, node, rendered.node_changes, self.name)
            status["nodeChanges"] = [record]
            await self._write(status)
        cluster_objects = await apply_manifests(self.kube, lab, self.namespace, rendered.manifests)
        if spec.learner:
            await self.kube.apply(learner_binding(spec.learner, self.namespace), self.namespace)
        metrics.PROVISIONED.inc()
        status.pop("provisioningFailedAt", None)
        status.pop("provisioningFailedGeneration", None)
        status.update(
            {
                "provisioned": True,
                "provisionedAt": iso(now),
                "observedReset": spec.reset,
                "clusterObjects": cluster_objects,
            }
        )
        self.logger.info(
            f"provisioned {len(rendered.manifests)} objects in {self.namespace} "
            f"in {time.monotonic() - started:.2f}s"
        )
        return status

    async def _confirm_symptoms(
        self, status: Status, scenario: ScenarioSpec, rendered: RenderedScenario, generation: int
    ) -> tuple[Status, float]:
        snapshot = await gather(
            self.kube, self._read_from(), all_needs(rendered.symptoms, self.namespace)
        )
        results = [evaluate(c, snapshot, self.namespace) for c in rendered.symptoms]
        status["symptoms"] = [
            {"name": c.name, "description": c.description, "holds": r.passed, "message": r.message}
            for c, r in zip(rendered.symptoms, results, strict=True)
        ]
        now = snapshot.now
        conditions = status.get("conditions") or []
        missing = [r for r in results if not r.passed]
        deadline = parse_iso(status["provisionedAt"]) + scenario.timeouts.symptoms_seconds
        wake = _next_recheck(results, now + self.settings.safety_seconds)
        if not missing:
            message = (
                f"scenario deployed in namespace {self.namespace}; "
                f"{len(results)} symptoms confirmed; {len(rendered.checks)} checks watched"
            )
            conditions = set_condition(
                conditions, READY, "True", "SymptomsConfirmed", message, generation, now
            )
            status["startedAt"] = iso(now)
            await self.post_event("Normal", "Provisioned", message)
        elif now >= deadline:
            message = (
                f"after {scenario.timeouts.symptoms_seconds}s the scenario is still not "
                f"broken as intended: {missing[0].name}: {missing[0].message}"
            )
            if (condition(status, READY) or {}).get("reason") != "SymptomsNotObserved":
                await self.post_event("Warning", "SymptomsNotObserved", message)
            conditions = set_condition(
                conditions, READY, "False", "SymptomsNotObserved", message, generation, now
            )
        else:
            conditions = set_condition(
                conditions,
                READY,
                "False",
                "WaitingForSymptoms",
                f"{len(missing)} of {len(results)} symptoms not yet observed: "
                f"{missing[0].name}: {missing[0].message}",
                generation,
                now,
            )
            wake = min(wake, deadline)
        if not any(c["type"] == SOLVED for c in conditions) or missing:
            conditions = set_condition(
                conditions,
                SOLVED,
                "Unknown",
                "NotReady",
                "the lab is not ready yet",
                generation,
                now,
            )
        status["conditions"] = conditions
        return status, wake

    # --- helpers ---------------------------------------------------------------------------------

    async def _not_ready(
        self, status: Status, generation: int, reason: str, message: str, retry: float | None = None
    ) -> float:
        now = time.time()
        previous = condition(status, READY) or {}
        if previous.get("reason") != reason and reason not in ("Resetting",):
            await self.post_event("Warning", reason, message)
        conditions = set_condition(
            status.get("conditions") or [], READY, "False", reason, message, generation, now
        )
        status["conditions"] = set_condition(
            conditions, SOLVED, "Unknown", "NotReady", "the lab is not ready", generation, now
        )
        await self._write(status)
        return now + (retry if retry is not None else self.settings.safety_seconds)

    def _read_from(self) -> Indexes:
        """The watch cache, or nothing (so every read goes to the API) when polling."""
        return {} if self.settings.poll_seconds else self.indexes

    def _node_holder(self, node: str) -> str | None:
        for obj in self.indexes.get("cache_nodes", {}).get("", ()):
            if obj["metadata"]["name"] == node:
                return holder(dict(obj))
        return None

    def _namespace_object(self) -> dict[str, Any] | None:
        for ns in self.indexes.get("cache_namespaces", {}).get("", ()):
            if ns["metadata"]["name"] == self.namespace:
                return dict(ns)
        return None

    def _namespace_exists(self) -> bool:
        ns = self._namespace_object()
        return ns is not None and not ns["metadata"].get("deletionTimestamp")

    def _namespace_terminating(self) -> bool:
        ns = self._namespace_object()
        return ns is not None and bool(ns["metadata"].get("deletionTimestamp"))

    async def _write(self, status: Status) -> None:
        patch = status_patch(self.written, status)
        if not patch:
            return
        await self.kube.patch_status("breakfix.dev/v1alpha1", "Lab", self.name, {"status": patch})
        metrics.STATUS_WRITES.inc()
        if "timeToSolveSeconds" in status and "timeToSolveSeconds" not in self.written:
            metrics.TIME_TO_SOLVE.observe(float(status["timeToSolveSeconds"]))
        self._count_solved((condition(status, SOLVED) or {}).get("status") == "True")
        for type_, reason, message in events_between(self.written, status):
            await self.post_event(type_, reason, message)
        self.written = copy.deepcopy(status)

    def _count_solved(self, solved: bool) -> None:
        if solved != self.solved:
            metrics.LABS_SOLVED.inc(1 if solved else -1)
            self.solved = solved


def _next_recheck(results: list[CheckResult], default: float) -> float:
    times = [r.recheck_at for r in results if r.recheck_at is not None]
    return min([default, *times])


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


def _api_error(exc: ApiException) -> str:
    import json

    try:
        return str(json.loads(exc.body or b"").get("message", exc.reason))
    except (TypeError, ValueError):
        return f"{exc.status} {exc.reason}"
