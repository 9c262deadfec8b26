"""The reconcile of one Lab as a pure function: what it observed in, a Decision out.

`decide()` reads the Lab, its Scenario, the cached Nodes and namespace, the status as last
decided and the time, and returns the new status, the actions to take and when to look again.
It never does I/O: when it needs to know something only the cluster can tell (does the Lab
holding the node still exist, did provisioning work, what do the symptoms and checks see), it
returns that question as an action with `wake_at=None`, and the executor asks again with the
answer. Like Kopf's own progression (kopf/_core/actions/progression.py), time is passed in.

One step of a new lab, for instance, is three calls: Provision?, then Gather(symptoms)?, then
(the symptoms holding) Gather(checks)?, and finally the graded status with WriteStatus.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from breakfix.checks.check import all_needs, evaluate, wake_kinds
from breakfix.checks.models import CheckResult
from breakfix.lab import reasons as r
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
from breakfix.lab.conditions import Status, condition, is_true, iso, parse_iso
from breakfix.lab.models import LabSpec
from breakfix.lab.nodes import holders, shell_command, target_node
from breakfix.lab.observed import Observed, Timing
from breakfix.lab.status import Evaluation, cleared, graded_status, not_ready
from breakfix.lab.symptoms import Observation, next_recheck, symptoms_status
from breakfix.scenario.models import ScenarioSpec, parsed_scenario
from breakfix.scenario.render import RenderedScenario, render
from breakfix.scenario.template import RenderError, namespace_for

Obj = dict[str, Any]


class _Step:
    """The decision being built: the status so far and the actions so far."""

    def __init__(self, seen: Observed, timing: Timing) -> None:
        self.seen, self.timing = seen, timing
        self.status: Status = dict(seen.status)
        self.actions: list[Action] = []

    def done(self, wake_at: float, write: bool = True) -> Decision:
        actions = [*self.actions, WriteStatus(self.status)] if write else self.actions
        return Decision(self.status, actions, wake_at)

    def ask(self, *questions: Action) -> Decision:
        return Decision(self.status, [*self.actions, *questions], None)

    def not_ready(self, reason: str, message: str, retry: float | None = None) -> Decision:
        seen = self.seen
        previous = condition(self.status, r.READY) or {}
        if previous.get("reason") != reason and reason != r.RESETTING:
            self.actions.append(PostEvent("Warning", reason, message))
        self.status = not_ready(
            self.status, seen.generation, reason, message, seen.now, "the lab is not ready"
        )
        wait = retry if retry is not None else self.timing.safety_seconds
        return self.done(seen.now + wait)


def settling(results: list[CheckResult], woken_at: float | None, status: Status) -> float:
    """When to grade again because the only checks failing may be answers lagging a learner's
    change (checks.check.INFORMER_SETTLE_STEPS): never during provisioning, whose own changes
    lag as well and leave the lab broken on purpose."""
    failing = [x for x in results if not x.passed]
    started = status.get("startedAt")
    if not failing or woken_at is None or not started or woken_at <= parse_iso(started):
        return float("inf")
    times = [x.settling_at for x in failing]
    if any(t is None for t in times):
        return float("inf")
    return min(t for t in times if t is not None)


def decide(seen: Observed, timing: Timing = Timing()) -> Decision:
    """The next status of the Lab `seen.name`, what to do to get there, and when to wake."""
    step = _Step(seen, timing)
    try:
        spec = LabSpec.model_validate(dict(seen.spec))
    except ValidationError as exc:
        return step.not_ready(r.INVALID_SPEC, first_error(exc))
    namespace = namespace_for(seen.name)
    step.status["namespace"] = namespace
    subscribed = len(step.actions)
    step.actions.append(Subscribe(spec.scenario))

    raw = seen.scenarios.get(spec.scenario)
    if raw is None:
        return step.not_ready(
            r.SCENARIO_NOT_FOUND,
            f"spec.scenario: Scenario {spec.scenario!r} does not exist; `kubectl get scenarios` "
            "lists them",
        )
    try:
        scenario = parsed_scenario(raw)
    except ValidationError as exc:
        return step.not_ready(r.SCENARIO_INVALID, f"Scenario {spec.scenario}: {first_error(exc)}")
    node: str | None = None
    shell: str | None = None
    if scenario.node_changes is not None:
        node = step.status.get("node") or target_node(
            seen.nodes, scenario.node_changes.role, seen.operator_node
        )
        if node is None:
            return step.not_ready(r.NO_NODE_AVAILABLE, "no Ready node to change", retry=10.0)
        others = {lab: n for lab, n in holders(seen.nodes).items() if lab != seen.name}
        if others and not step.status.get("provisioned"):
            unknown = [lab for lab in sorted(others) if lab not in seen.labs_alive]
            if unknown:
                return step.ask(LookUpLab(unknown[0]))
            alive = sorted(lab for lab in others if seen.labs_alive[lab])
            if alive:
                step.actions[subscribed] = Subscribe(spec.scenario, frozenset({"Node"}))
                return step.not_ready(
                    r.WAITING_FOR_EXCLUSIVE_LAB,
                    f"lab {alive[0]} holds node {others[alive[0]]}: one lab that changes a node "
                    "runs at a time; this lab starts when it is deleted",
                    retry=timing.safety_seconds,
                )
        shell = shell_command(_node(seen.nodes, node), node)
        step.status["node"] = node
        if scenario.node_changes.on_host:
            step.status["shell"] = shell
    if step.status.get("seed") is None:
        step.status["seed"] = spec.seed if spec.seed is not None else seen.new_seed
    try:
        rendered = render(scenario, spec.scenario, seen.name, int(step.status["seed"]), node, shell)
    except RenderError as exc:
        return step.not_ready(r.RENDER_FAILED, f"Scenario {spec.scenario} does not render: {exc}")
    kinds = wake_kinds(rendered.symptoms + rendered.checks, namespace)
    if scenario.node_changes is not None:
        kinds.add("Node")
    step.actions[subscribed] = Subscribe(
        spec.scenario, frozenset(kinds), frozenset(rendered.other_namespaces)
    )

    decided = _provisioning(step, spec, rendered, node, namespace)
    if decided is not None:
        return decided
    return _grading(step, spec, scenario, rendered, namespace)


def _provisioning(
    step: _Step, spec: LabSpec, rendered: RenderedScenario, node: str | None, namespace: str
) -> Decision | None:
    """Reset, provision, or handle provisioning's answer; None when the lab is provisioned."""
    seen, status = step.seen, step.status
    outcome = seen.provisioned
    if outcome is not None:
        return _provisioned(step, spec, outcome, namespace)
    # The namespace just created may not be in the watch cache yet: only look before provisioning.
    reset = int(status.get("observedReset", 0)) != spec.reset
    if status.get("provisioned") and (reset or not seen.namespace_exists):
        if reset:
            reason = r.RESET
            message = f"reset {spec.reset}: deleting namespace {namespace} and provisioning again"
        else:
            reason = r.NAMESPACE_LOST
            message = f"namespace {namespace} disappeared: provisioning again"
        step.actions.append(PostEvent("Normal", reason, message))
        step.status = cleared(status, seen.generation, message, seen.now)
        step.actions += [
            WriteStatus(step.status),
            TearDown(
                list(status.get("clusterObjects") or []),
                list(status.get("nodeChanges") or []),
                wait=True,
            ),
        ]
    status = step.status
    if status.get("provisioned"):
        return None
    failed_at = status.get("provisioningFailedAt")
    if failed_at and status.get("provisioningFailedGeneration") == seen.generation:
        # Do not hammer the API with a scenario it rejects: wait, or act at once when the Lab
        # changes.
        retry_at = parse_iso(failed_at) + step.timing.retry_seconds
        if seen.now < retry_at:
            return step.done(retry_at, write=False)
        # The pause is over: try again. A namespace still terminating (a Lab deleted and
        # created again under its name) refuses it once more, and the lab pauses again.
    return step.ask(Provision(rendered, node, spec.learner, dict(status)))


def _provisioned(
    step: _Step, spec: LabSpec, outcome: Provisioned, namespace: str
) -> Decision | None:
    seen, status = step.seen, step.status
    if status.get("provisioned"):
        return None
    if outcome.node_changes:
        status["nodeChanges"] = outcome.node_changes
    if outcome.error is not None:
        step.actions.append(
            TearDown(
                list(status.get("clusterObjects") or []),
                list(status.pop("nodeChanges", None) or []),
                wait=False,
            )
        )
        status["provisioningFailedAt"] = iso(seen.now)
        status["provisioningFailedGeneration"] = seen.generation
        message = f"could not create the scenario's objects: {outcome.error}"
        step.actions.append(PostEvent("Warning", r.PROVISIONING_FAILED, message))
        return step.not_ready(r.PROVISIONING_FAILED, message, retry=step.timing.retry_seconds)
    status.pop("provisioningFailedAt", None)
    status.pop("provisioningFailedGeneration", None)
    status.update(
        {
            "provisioned": True,
            "provisionedAt": iso(seen.now),
            "observedReset": spec.reset,
            "clusterObjects": outcome.cluster_objects,
        }
    )
    return None


def _grading(
    step: _Step,
    spec: LabSpec,
    scenario: ScenarioSpec,
    rendered: RenderedScenario,
    namespace: str,
) -> Decision:
    """Confirm the symptoms until Ready, then grade the checks; at the deadline, for the last
    time."""
    seen = step.seen
    revealed = rendered.hints[: spec.hints]
    wake = seen.now + step.timing.safety_seconds
    if step.status.get("final"):
        # Graded for the last time at the deadline: nothing done after it counts.
        return step.done(wake)
    ends = spec.deadline.timestamp() if spec.deadline else None
    if not is_true(step.status, r.READY):
        if seen.symptoms is None:
            needs = all_needs(rendered.symptoms, namespace)
            return step.ask(Gather("symptoms", tuple(needs)))
        results = [evaluate(c, seen.symptoms, namespace) for c in rendered.symptoms]
        step.status, events, symptoms_wake = symptoms_status(
            step.status,
            Observation(
                generation=seen.generation,
                now=seen.symptoms.now,
                namespace=namespace,
                symptoms=rendered.symptoms,
                results=results,
                checks_watched=len(rendered.checks),
                symptoms_seconds=scenario.timeouts.symptoms_seconds,
                safety_seconds=step.timing.safety_seconds,
            ),
        )
        step.actions += events
        wake = min(wake, symptoms_wake)
    if is_true(step.status, r.READY):
        if seen.checks is None:
            return step.ask(Gather("checks", tuple(all_needs(rendered.checks, namespace))))
        results = [evaluate(c, seen.checks, namespace) for c in rendered.checks]
        step.status = graded_status(
            step.status,
            Evaluation(
                generation=seen.generation,
                now=seen.checks.now,
                checks=rendered.checks,
                results=results,
                revealed=revealed,
                time_limit_seconds=spec.time_limit_seconds,
            ),
        )
        wake = min(wake, next_recheck(results, wake))
        wake = min(wake, settling(results, seen.checks.woken_at, step.status))
        if spec.time_limit_seconds and not step.status.get("firstSolvedAt"):
            deadline = parse_iso(step.status["startedAt"]) + spec.time_limit_seconds + 1
            if deadline > seen.now:
                wake = min(wake, deadline)
    else:
        step.status["hints"] = [h.text for h in revealed]
        step.status["hintsUsed"] = len(revealed)
    if ends is not None and seen.now >= ends:
        step.status["final"] = True
        step.status["finalAt"] = iso(seen.now)
        step.actions.append(
            PostEvent(
                "Normal",
                r.DEADLINE_REACHED,
                f"graded for the last time: {step.status.get('progress', 'not Ready, no')} "
                "checks pass; later changes do not count",
            )
        )
    elif ends is not None:
        wake = min(wake, ends)
    # What the learner reads, with this lab's names: the Scenario holds it unrendered.
    step.status["task"] = rendered.task
    # Hints are revealed only here, so the status this step started from has the old ones.
    for index in range(len(seen.status.get("hints") or []), len(revealed)):
        step.actions.append(
            PostEvent(
                "Normal",
                r.HINT_REVEALED,
                f"hint {index + 1} of {len(rendered.hints)} revealed "
                f"(-{revealed[index].cost} points)",
            )
        )
    return step.done(wake)


def _node(nodes: Sequence[Obj], name: str) -> Obj | None:
    return next((dict(n) for n in nodes if n["metadata"]["name"] == name), None)


def first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])
