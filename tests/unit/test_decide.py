"""decide(), table-driven: a lab's history and what the cluster shows -> status, actions, wake-up.

No cluster: `step()` answers decide()'s questions the way the executor would, from a fake
cluster described by a few parameters (the ConfigMap's mode, whether provisioning is refused...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from breakfix.checks.models import CheckResult
from breakfix.checks.snapshot import ObjectsNeed, Snapshot
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
from breakfix.lab.conditions import Status, condition, iso
from breakfix.lab.decide import decide, settling
from breakfix.lab.nodes import HOLDER
from breakfix.lab.observed import Observed

T0 = 1_800_000_000.0
NS = "lab-t"


def scenario(node_changes: bool = False) -> dict[str, Any]:
    def cm_check(name: str, mode: str) -> dict[str, Any]:
        return {
            "name": name,
            "description": f"the mode is {mode}",
            "resource": {"kind": "ConfigMap", "name": "app", "expect": {"data": {"mode": mode}}},
        }

    spec: dict[str, Any] = {
        "title": "A config map in the wrong mode",
        "task": "Put the config map in the right mode.",
        "difficulty": "easy",
        "category": "config",
        "timeouts": {"symptomsSeconds": 60},
        "manifests": [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "app"},
                "data": {"mode": "broken"},
            }
        ],
        "symptoms": [cm_check("broken", "broken")],
        "checks": [
            cm_check("fixed", "fixed"),
            {
                "name": "kept",
                "description": "the config map is kept",
                "guard": True,
                "resource": {"kind": "ConfigMap", "name": "app"},
            },
        ],
        "hints": [{"text": "look at the mode", "cost": 10}, {"text": "set it", "cost": 30}],
        "solution": {
            "explanation": "fix it",
            "steps": [{"delete": {"apiVersion": "v1", "kind": "ConfigMap", "name": "app"}}],
        },
    }
    if node_changes:
        spec |= {"exclusive": True, "nodeChanges": {"unschedulable": True}}
    return spec


def node(held_by: str | None = None) -> dict[str, Any]:
    annotations = {HOLDER: held_by} if held_by else {}
    return {
        "metadata": {"name": "n1", "annotations": annotations},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


@dataclass
class Cluster:
    """What the fake cluster shows at one step."""

    mode: str | None = "broken"  # the ConfigMap's data.mode; None: no ConfigMap
    namespace_exists: bool = True
    refuse: str | None = None  # provisioning fails with this API message
    nodes: list[dict[str, Any]] = field(default_factory=lambda: [node()])
    labs_alive: dict[str, bool] = field(default_factory=dict)
    scenarios: dict[str, Any] = field(
        default_factory=lambda: {"s": scenario(), "n": scenario(True)}
    )


def snapshot(cluster: Cluster, now: float) -> Snapshot:
    objs = (
        []
        if cluster.mode is None
        else [{"metadata": {"name": "app"}, "data": {"mode": cluster.mode}}]
    )
    return Snapshot(now=now, objects={ObjectsNeed("v1", "ConfigMap", NS): objs})


def step(
    status: Status, spec: dict[str, Any], cluster: Cluster, now: float, generation: int = 1
) -> tuple[Decision, list[Action]]:
    """One executor step: decide, answer its questions, until it says when to wake."""
    seen = Observed(
        name="t",
        generation=generation,
        spec=spec,
        status=status,
        scenarios=cluster.scenarios,
        nodes=cluster.nodes,
        namespace_exists=cluster.namespace_exists,
        now=now,
        new_seed=4242,
    )
    actions: list[Action] = []
    for _ in range(10):
        decision = decide(seen)
        actions += decision.actions
        if decision.wake_at is not None:
            return decision, actions
        for action in decision.actions:
            if isinstance(action, LookUpLab):
                alive = {action.name: cluster.labs_alive.get(action.name, False)}
                seen = replace(seen, labs_alive=alive)
            elif isinstance(action, Provision):
                answer = Provisioned([], [], error=cluster.refuse)
                seen = replace(seen, provisioned=answer)
            elif isinstance(action, Gather):
                seen = replace(seen, **{action.purpose: snapshot(cluster, now)})
        seen = replace(seen, status=decision.status)
    raise AssertionError("decide() kept asking")


def summary(actions: list[Action]) -> list[str]:
    out = []
    for a in actions:
        if isinstance(a, PostEvent):
            out.append(f"Event {a.reason}")
        elif isinstance(a, Gather):
            out.append(f"Gather {a.purpose}")
        elif isinstance(a, TearDown):
            out.append("TearDown and wait" if a.wait else "TearDown")
        elif isinstance(a, LookUpLab):
            out.append(f"LookUpLab {a.name}")
        elif not isinstance(a, Subscribe):
            out.append(type(a).__name__)
    return out


SPEC = {"scenario": "s", "seed": 7}
NEW = [
    "Provision",
    "Gather symptoms",
    "Event Provisioned",
    "Gather checks",
    "WriteStatus",
]


@dataclass
class Case:
    name: str
    # Earlier steps: (seconds after T0, spec, cluster); the last one is the step under test.
    history: list[tuple[float, dict[str, Any], Cluster]]
    ready: tuple[str, str]
    solved: tuple[str, str]
    actions: list[str]
    wake_in: float
    fields: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "new lab: provisioned, symptoms confirmed, graded",
        [(0, SPEC, Cluster())],
        ("True", "SymptomsConfirmed"),
        ("False", "ChecksFailing"),
        NEW,
        300,
        {"progress": "1/2", "score": 50, "seed": 7, "startedAt": iso(T0)},
    ),
    Case(
        "nothing changed: graded again, nothing to say",
        [(0, SPEC, Cluster()), (5, SPEC, Cluster())],
        ("True", "SymptomsConfirmed"),
        ("False", "ChecksFailing"),
        ["Gather checks", "WriteStatus"],
        300,
    ),
    Case(
        "fixed",
        [(0, SPEC, Cluster()), (65, SPEC, Cluster(mode="fixed"))],
        ("True", "SymptomsConfirmed"),
        ("True", "AllChecksPassed"),
        ["Gather checks", "WriteStatus"],
        300,
        {"score": 100, "firstSolvedAt": iso(T0 + 65), "timeToSolveSeconds": 65},
    ),
    Case(
        "a fix that regresses: the shortcut deleted the ConfigMap",
        [(0, SPEC, Cluster()), (5, SPEC, Cluster(mode="fixed")), (9, SPEC, Cluster(mode=None))],
        ("True", "SymptomsConfirmed"),
        ("False", "ShortcutDetected"),
        ["Gather checks", "WriteStatus"],
        300,
        {"regressions": 1, "firstSolvedAt": iso(T0 + 5), "progress": "0/2"},
    ),
    Case(
        "reset: torn down, provisioned again, same seed",
        [
            (0, SPEC, Cluster()),
            (5, SPEC, Cluster(mode="fixed")),
            (9, SPEC | {"reset": 1}, Cluster()),
        ],
        ("True", "SymptomsConfirmed"),
        ("False", "ChecksFailing"),
        ["Event Reset", "WriteStatus", "TearDown and wait", *NEW],
        300,
        {"observedReset": 1, "seed": 7, "regressions": 0, "startedAt": iso(T0 + 9)},
    ),
    Case(
        "namespace deleted by hand: provisioned again",
        [(0, SPEC, Cluster()), (5, SPEC, Cluster(namespace_exists=False))],
        ("True", "SymptomsConfirmed"),
        ("False", "ChecksFailing"),
        ["Event NamespaceLost", "WriteStatus", "TearDown and wait", *NEW],
        300,
    ),
    Case(
        "scenario missing",
        [(0, {"scenario": "nope"}, Cluster())],
        ("False", "ScenarioNotFound"),
        ("Unknown", "NotReady"),
        ["Event ScenarioNotFound", "WriteStatus"],
        300,
    ),
    Case(
        "scenario still missing: no second Event",
        [(0, {"scenario": "nope"}, Cluster()), (5, {"scenario": "nope"}, Cluster())],
        ("False", "ScenarioNotFound"),
        ("Unknown", "NotReady"),
        ["WriteStatus"],
        300,
    ),
    Case(
        "scenario invalid",
        [(0, {"scenario": "bad"}, Cluster(scenarios={"bad": {"title": "x"}}))],
        ("False", "ScenarioInvalid"),
        ("Unknown", "NotReady"),
        ["Event ScenarioInvalid", "WriteStatus"],
        300,
    ),
    Case(
        "invalid spec",
        [(0, {"scenario": "s", "seed": -1}, Cluster())],
        ("False", "InvalidSpec"),
        ("Unknown", "NotReady"),
        ["Event InvalidSpec", "WriteStatus"],
        300,
    ),
    Case(
        "symptoms not there yet: wake at their deadline",
        [(0, SPEC, Cluster(mode="fine"))],
        ("False", "WaitingForSymptoms"),
        ("Unknown", "NotReady"),
        ["Provision", "Gather symptoms", "WriteStatus"],
        60,
    ),
    Case(
        "symptoms never appear",
        [(0, SPEC, Cluster(mode="fine")), (61, SPEC, Cluster(mode="fine"))],
        ("False", "SymptomsNotObserved"),
        ("Unknown", "NotReady"),
        ["Gather symptoms", "Event SymptomsNotObserved", "WriteStatus"],
        300,
    ),
    Case(
        "time limit: wake when it passes",
        [(0, SPEC | {"timeLimitSeconds": 60}, Cluster())],
        ("True", "SymptomsConfirmed"),
        ("False", "ChecksFailing"),
        NEW,
        61,
    ),
    Case(
        "time limit exceeded",
        [
            (0, SPEC | {"timeLimitSeconds": 60}, Cluster()),
            (100, SPEC | {"timeLimitSeconds": 60}, Cluster()),
        ],
        ("True", "SymptomsConfirmed"),
        ("False", "ChecksFailing"),
        ["Gather checks", "WriteStatus"],
        300,
        {"score": 50},
    ),
    Case(
        "provisioning refused: cleaned up, retried after a pause",
        [(0, SPEC, Cluster(refuse="configmaps is forbidden"))],
        ("False", "ProvisioningFailed"),
        ("Unknown", "NotReady"),
        [
            "Provision",
            "TearDown",
            "Event ProvisioningFailed",
            "Event ProvisioningFailed",
            "WriteStatus",
        ],
        30,
        {"provisioningFailedAt": iso(T0), "provisioningFailedGeneration": 1},
    ),
    Case(
        "provisioning refused: nothing written during the pause",
        [(0, SPEC, Cluster(refuse="no")), (10, SPEC, Cluster(refuse="no"))],
        ("False", "ProvisioningFailed"),
        ("Unknown", "NotReady"),
        [],
        20,
    ),
    Case(
        # A Lab re-created under its old name meets its old namespace still terminating.
        "provisioning refused: tried again once the pause is over",
        [(0, SPEC, Cluster(refuse="namespace is being terminated")), (31, SPEC, Cluster())],
        ("True", "SymptomsConfirmed"),
        ("False", "ChecksFailing"),
        NEW,
        300,
    ),
    Case(
        "exclusive lab: the node is held by a lab that exists",
        [(0, {"scenario": "n"}, Cluster(nodes=[node("u")], labs_alive={"u": True}))],
        ("False", "WaitingForExclusiveLab"),
        ("Unknown", "NotReady"),
        ["LookUpLab u", "Event WaitingForExclusiveLab", "WriteStatus"],
        300,
    ),
    Case(
        "exclusive lab: the node is held by a lab that is gone",
        [(0, {"scenario": "n"}, Cluster(nodes=[node("u")]))],
        ("True", "SymptomsConfirmed"),
        ("False", "ChecksFailing"),
        ["LookUpLab u", *NEW],
        300,
        {"seed": 4242},
    ),
    Case(
        "exclusive lab: no Ready node",
        [(0, {"scenario": "n"}, Cluster(nodes=[]))],
        ("False", "NoNodeAvailable"),
        ("Unknown", "NotReady"),
        ["Event NoNodeAvailable", "WriteStatus"],
        10,
    ),
    Case(
        "a hint revealed",
        [(0, SPEC, Cluster()), (5, SPEC | {"hints": 1}, Cluster())],
        ("True", "SymptomsConfirmed"),
        ("False", "ChecksFailing"),
        ["Gather checks", "Event HintRevealed", "WriteStatus"],
        300,
        {"hints": ["look at the mode"], "hintsUsed": 1, "score": 40},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_decide(case: Case) -> None:
    status: Status = {}
    for offset, spec, cluster in case.history:
        decision, actions = step(status, spec, cluster, T0 + offset)
        status = decision.status
    assert summary(actions) == case.actions
    assert decision.wake_at == T0 + offset + case.wake_in
    ready, solved = condition(status, "Ready") or {}, condition(status, "Solved") or {}
    assert (ready["status"], ready["reason"]) == case.ready, ready.get("message")
    assert (solved["status"], solved["reason"]) == case.solved
    for key, value in case.fields.items():
        assert status.get(key) == value, key
    writes = [a.status for a in actions if isinstance(a, WriteStatus)]
    assert not writes or writes[-1] == status


def test_subscribes_first_to_the_kinds_its_checks_read_cluster_wide() -> None:
    _, actions = step({}, {"scenario": "n"}, Cluster(), T0)
    assert actions[0] == Subscribe("n", frozenset({"Node"}))


def test_refused_provisioning_tries_again_after_each_pause_not_before() -> None:
    status: Status = {}
    decision, actions = step(status, SPEC, Cluster(refuse="no"), T0)
    decision, actions = step(decision.status, SPEC, Cluster(refuse="no"), T0 + 29)
    assert summary(actions) == [] and decision.wake_at == T0 + 30
    decision, actions = step(decision.status, SPEC, Cluster(refuse="no"), T0 + 31)
    assert summary(actions)[:2] == ["Provision", "TearDown"]
    assert (condition(decision.status, "Ready") or {})["reason"] == "ProvisioningFailed"
    assert decision.status["provisioningFailedAt"] == iso(T0 + 31)
    assert decision.wake_at == T0 + 61


def test_a_new_generation_provisions_again_after_a_refusal() -> None:
    decision, _ = step({}, SPEC, Cluster(refuse="no"), T0)
    decision, actions = step(decision.status, SPEC, Cluster(), T0 + 1, generation=2)
    assert summary(actions) == NEW
    assert "provisioningFailedAt" not in decision.status


def test_decide_is_pure() -> None:
    status: Status = {}
    first, _ = step(status, SPEC, Cluster(), T0)
    again, _ = step(status, SPEC, Cluster(), T0)
    assert first == again and status == {}


def test_time_limit_condition() -> None:
    limited = SPEC | {"timeLimitSeconds": 60}
    decision, _ = step({}, limited, Cluster(), T0)
    assert (condition(decision.status, "TimeLimitExceeded") or {})["status"] == "False"
    decision, _ = step(decision.status, limited, Cluster(), T0 + 100)
    expired = condition(decision.status, "TimeLimitExceeded") or {}
    assert (expired["status"], expired["reason"]) == ("True", "TimeLimitExceeded")


def test_node_changes_are_kept_and_reverted_if_provisioning_then_fails() -> None:
    record = {"node": "n1", "taints": [], "unschedulable": False, "labels": {}}
    seen = Observed(
        name="t",
        generation=1,
        spec={"scenario": "n"},
        status={},
        scenarios=Cluster().scenarios,
        nodes=[node()],
        namespace_exists=False,
        now=T0,
        new_seed=1,
    )
    asked = decide(seen)
    assert [type(a).__name__ for a in asked.actions] == ["Subscribe", "Provision"]
    seen = replace(seen, status=asked.status)
    ok = decide(replace(seen, provisioned=Provisioned([record], [])))
    assert ok.status["nodeChanges"] == [record] and ok.status["provisioned"] is True
    failed = decide(replace(seen, provisioned=Provisioned([record], [], error="no")))
    assert TearDown([], [record], wait=False) in failed.actions
    assert "nodeChanges" not in failed.status


def test_deadline_grades_one_last_time_then_nothing_counts() -> None:
    # An exam's lab: graded until its deadline, then frozen as it was at that moment.
    spec = {**SPEC, "deadline": iso(T0 + 600)}
    first, _ = step({}, spec, Cluster(), T0)
    assert first.wake_at == T0 + 300  # the safety timer comes before the deadline
    assert first.status["asked"] == ["fixed"]  # what the task asks to fix; "kept" is a guard
    later, _ = step(first.status, spec, Cluster(), T0 + 400)
    assert later.wake_at == T0 + 600
    final, actions = step(later.status, spec, Cluster(), T0 + 600)
    assert final.status["final"] is True and final.status["progress"] == "1/2"
    assert "Event DeadlineReached" in summary(actions)
    # Fixed after the deadline: not gathered, not graded, the status stays.
    after, actions = step(final.status, spec, Cluster(mode="fixed"), T0 + 700)
    assert after.status == final.status
    assert "Gather checks" not in summary(actions)


def test_a_lab_not_ready_at_its_deadline_is_final_with_nothing_passed() -> None:
    spec = {**SPEC, "deadline": iso(T0 + 10)}
    decision, _ = step({}, spec, Cluster(mode=None), T0 + 20)
    assert decision.status["final"] is True
    assert "checks" not in decision.status


def test_a_lagging_no_is_asked_again_soon_only_when_nothing_else_fails_after_ready() -> None:
    started = {"startedAt": iso(1000.0)}
    lagging = CheckResult(name="can", passed=False, message="no", settling_at=1010.05)
    passing = CheckResult(name="kept", passed=True, message="ok")
    broken = CheckResult(name="other", passed=False, message="no")
    assert settling([lagging, passing], 1010.0, started) == 1010.05
    # Something else fails too: the lag is not what stands between the lab and Solved.
    assert settling([lagging, broken], 1010.0, started) == float("inf")
    # Woken before the lab was Ready (its own provisioning): broken on purpose.
    assert settling([lagging], 999.0, started) == float("inf")
    assert settling([lagging], 1010.0, {}) == float("inf")
    assert settling([passing], 1010.0, started) == float("inf")
