"""A scenario that spans a second namespace (`namespace.others`): its name and templates, where
its manifests go, how provisionedKept judges both namespaces, who it wakes, and the Lab names
that leave it room."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from breakfix.checks.check import evaluate
from breakfix.checks.snapshot import ObjectsNeed, Snapshot
from breakfix.controller.signals import Signals
from breakfix.kube.provision import claimed_by_other, lab_namespaces
from breakfix.scenario.catalog import load_catalog
from breakfix.scenario.models import INVARIANTS_CHECK, ScenarioSpec
from breakfix.scenario.render import render
from breakfix.scenario.solution import solution_commands
from breakfix.scenario.template import RenderError, home_namespace, uid_key
from breakfix.selftest.runner import plan_runs

NS, BACKEND = "lab-t", "lab-t-backend"

API: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "api", "namespace": "{{ namespaces.backend }}"},
    "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 80}]},
}
ROUTE: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "site"},
    "spec": {
        "rules": [{"backendRefs": [{"name": "api", "namespace": "{{ namespaces.backend }}"}]}]
    },
}
GRANT_RULE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "ReferenceGrant",
    "namespace": "{{ namespaces.backend }}",
    "expect": {"(length(spec.to[?name != 'api']))": 0},
    "why": "the grant names the Service api only",
}


def scenario(**invariants: Any) -> ScenarioSpec:
    return ScenarioSpec.model_validate(
        {
            "title": "A test lab",
            "task": "The route reaches {{ namespaces.backend }}.\n",
            "difficulty": "easy",
            "category": "test",
            "namespace": {"others": [{"name": "backend", "labels": {"team": "{{ lab }}"}}]},
            "manifests": [ROUTE, API],
            "symptoms": [{"name": "s", "description": "d", "podsReady": {"selector": {"a": "b"}}}],
            "checks": [
                {
                    "name": "c",
                    "description": "d",
                    "serviceEndpoints": {"service": "api", "namespace": "{{ namespaces.backend }}"},
                }
            ],
            "solution": {"explanation": "e", "steps": [{"waitSeconds": 1}]},
            "invariants": invariants or {"mayAdd": [GRANT_RULE]},
        }
    )


def test_the_other_namespace_is_named_after_the_lab_and_rendered_everywhere() -> None:
    rendered = render(scenario(), "test", "t", 1)
    assert rendered.context["namespaces"] == {"backend": BACKEND}
    assert rendered.other_namespaces == {BACKEND: {"team": "t"}}
    assert rendered.task.startswith(f"The route reaches {BACKEND}.\n")
    assert f"in `{BACKEND}`, only of kind ReferenceGrant" in rendered.task
    assert rendered.manifests[1]["metadata"]["namespace"] == BACKEND
    check = next(c for c in rendered.checks if c.name == "c")
    assert check.body.namespace == BACKEND  # type: ignore[union-attr]


def test_a_lab_name_too_long_for_the_other_namespace_is_refused_with_the_limit() -> None:
    with pytest.raises(RenderError, match="needs a name of at most 51 characters"):
        render(scenario(), "test", "x" * 52, 1)
    render(scenario(), "test", "x" * 51, 1)


def test_names_must_be_short_labels_and_unique() -> None:
    spec = scenario().model_dump(by_alias=True, exclude_none=True)
    for others in ([{"name": "Backend"}], [{"name": "a-very-long-name"}], [{"name": "b"}] * 2):
        bad = copy.deepcopy(spec)
        bad["namespace"]["others"] = others
        with pytest.raises(ValueError, match=r"namespace\.others"):
            ScenarioSpec.model_validate(bad)


def test_a_manifest_goes_where_it_says_only_if_that_is_one_of_the_labs() -> None:
    assert home_namespace({"metadata": {"namespace": BACKEND}}, NS, [BACKEND]) == BACKEND
    assert home_namespace({"metadata": {"namespace": "default"}}, NS, [BACKEND]) == NS
    assert home_namespace({"metadata": {}}, NS, [BACKEND]) == NS
    assert uid_key("Service", "api", BACKEND, NS) == f"Service/{BACKEND}/api"
    assert uid_key("Service", "api", NS, NS) == "Service/api"
    assert uid_key("PersistentVolume", "pv", None, NS) == "PersistentVolume/pv"


def test_the_other_namespaces_are_torn_down_with_the_lab() -> None:
    refs = [
        {"apiVersion": "v1", "kind": "Namespace", "name": BACKEND},
        {"apiVersion": "v1", "kind": "PersistentVolume", "name": "pv"},
    ]
    assert lab_namespaces(NS, refs) == [NS, BACKEND]


def test_a_namespace_of_another_lab_is_not_taken_over() -> None:
    # Lab `t-backend` would live in lab-t-backend, the other namespace of Lab `t`.
    theirs = {"metadata": {"name": BACKEND, "labels": {"breakfix.dev/lab": "t"}}}
    assert claimed_by_other(theirs, "t-backend") == "t"
    assert claimed_by_other(theirs, "t") is None
    assert claimed_by_other(None, "t-backend") is None


def _guard_verdict(*objects: dict[str, Any]) -> tuple[bool, str]:
    rendered = render(scenario(), "test", "t", 1)
    guard = next(c for c in rendered.checks if c.name == INVARIANTS_CHECK)
    snap = Snapshot(now=0.0)
    uids = {"HTTPRoute/site": "r1", f"Service/{BACKEND}/api": "s1"}
    snap.objects[ObjectsNeed("v1", "Namespace", "")] = [
        {
            "metadata": {
                "name": NS,
                "annotations": {"breakfix.dev/provisioned-uids": json.dumps(uids)},
            }
        }
    ]
    for need in guard.body.needs(NS):
        snap.objects.setdefault(need, [])  # type: ignore[arg-type]
    for obj in objects:
        where = obj["metadata"].get("namespace", NS)
        snap.objects.setdefault(ObjectsNeed(obj["apiVersion"], obj["kind"], where), []).append(obj)
    result = evaluate(guard, snap, NS)
    return result.passed, result.message


def _live(manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    obj = copy.deepcopy(manifest)
    obj["metadata"]["namespace"] = namespace
    if obj["kind"] == "HTTPRoute":
        obj["spec"]["rules"][0]["backendRefs"][0]["namespace"] = BACKEND
    return obj


def _grant(name: str, to: dict[str, Any], namespace: str = BACKEND) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "ReferenceGrant",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"to": [to]},
    }


def test_provisioned_kept_reads_each_object_in_its_own_namespace() -> None:
    route, api = _live(ROUTE, NS), _live(API, BACKEND)
    passed, message = _guard_verdict(route, api)
    assert passed, message
    # The Service is looked for in the backend namespace, not the lab's.
    passed, message = _guard_verdict(route, _live(API, NS))
    assert not passed
    assert f"Service {BACKEND}/api is gone" in message
    changed = copy.deepcopy(api)
    changed["spec"]["selector"] = {"app": "copy"}
    passed, message = _guard_verdict(route, changed)
    assert not passed and f"Service {BACKEND}/api: spec.selector.app" in message


def test_new_objects_are_judged_by_the_rules_of_their_namespace() -> None:
    route, api = _live(ROUTE, NS), _live(API, BACKEND)
    narrow = _grant("g", {"kind": "Service", "name": "api"})
    assert _guard_verdict(route, api, narrow)[0]
    passed, message = _guard_verdict(route, api, _grant("g", {"kind": "Service"}))
    assert not passed
    assert message.startswith(f"ReferenceGrant g is new in {BACKEND}:")
    assert "the grant names the Service api only" in message
    # Allowed in the backend namespace, not in the lab's own.
    passed, message = _guard_verdict(
        route, api, _grant("g", {"kind": "Service", "name": "api"}, NS)
    )
    assert (
        not passed and f"ReferenceGrant g is new in {NS}: the task lets a fix create no" in message
    )
    stray = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": BACKEND},
    }
    passed, message = _guard_verdict(route, api, stray)
    assert not passed and f"ConfigMap x is new in {BACKEND}" in message


def test_an_event_in_the_other_namespace_wakes_the_lab_that_owns_it() -> None:
    signals = Signals()
    signals.flag("t"), signals.flag("t-backend")
    signals.subscribe("t", "s", set(), {BACKEND})
    signals.namespace(BACKEND)
    assert signals.flag("t").is_set() and not signals.flag("t-backend").is_set()
    signals.unsubscribe("t")
    signals.namespace(BACKEND)  # now it is Lab t-backend's own namespace, if there is one
    assert signals.flag("t-backend").is_set()


def test_kubectl_applies_an_object_in_the_namespace_it_names() -> None:
    rendered = render(scenario(), "test", "t", 1)
    steps = rendered.solution.model_copy(
        update={
            "steps": [type(rendered.solution.steps[0]).model_validate({"apply": _grant("g", {})})]
        }
    )
    (command,) = solution_commands(steps, NS)
    assert command.args[command.args.index("-n") + 1] == BACKEND


def test_self_test_lab_names_leave_room_for_the_other_namespaces() -> None:
    labs = [f for f in load_catalog(Path("labs")) if f.spec.namespace.others]
    assert labs, "the catalog has a lab with another namespace"
    runs = plan_runs(labs, None, 1, True, None, None, random.Random(1))
    assert len(runs) > len(labs)
    for folder, _, name, _, _ in runs:
        for other in folder.spec.namespace.others:
            assert len(f"lab-{name}-{other.name}") <= 63
