"""provisionedKept: the lab's objects against the manifests they were provisioned from, with the
exceptions a scenario's `invariants` declare; and that declaration as the task states it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from breakfix.checks.check import Check, evaluate
from breakfix.checks.provisioned_kept import (
    NEW_OBJECT_KINDS,
    object_changes,
    parse_path,
    show_path,
)
from breakfix.checks.snapshot import ObjectsNeed, Snapshot
from breakfix.scenario.models import INVARIANTS_CHECK, ScenarioSpec, with_constraints
from breakfix.scenario.render import render

NS = "lab-t"

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "annotations": {"ops/note": "keep"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "server",
                        "image": "busybox:1.36",
                        "command": ["sh", "-c", "exec httpd -f -p 8080"],
                        "readinessProbe": {"tcpSocket": {"port": 8080}},
                        "resources": {"requests": {"cpu": "0.5", "memory": "16Mi"}},
                    }
                ],
                "tolerations": [{"key": "team", "operator": "Equal", "value": "a"}],
            },
        },
    },
}
SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
}


def served(manifest: dict[str, Any], uid: str) -> dict[str, Any]:
    """The object as the API server returns it: identity, lab labels and defaults added."""
    obj = copy.deepcopy(manifest)
    obj["metadata"].update(namespace=NS, uid=uid, resourceVersion="7")
    obj["metadata"].setdefault("labels", {})["breakfix.dev/lab"] = "t"
    if obj["kind"] == "Deployment":
        spec = obj["spec"]
        spec.update(revisionHistoryLimit=10, progressDeadlineSeconds=600)
        pod = spec["template"]["spec"]
        pod.update(restartPolicy="Always", dnsPolicy="ClusterFirst", schedulerName="default")
        container = pod["containers"][0]
        container.update(terminationMessagePath="/dev/termination-log", imagePullPolicy="Always")
        container["readinessProbe"].update(periodSeconds=10, failureThreshold=3)
        container["resources"]["requests"]["cpu"] = "500m"  # how the API writes 0.5 back
    else:
        obj["spec"].update(clusterIP="10.96.0.10", type="ClusterIP")
        obj["spec"]["ports"][0].update(protocol="TCP", targetPort=80)
    obj["status"] = {"observedGeneration": 1}
    return obj


def scenario(invariants: dict[str, Any], task: str = "") -> ScenarioSpec:
    return ScenarioSpec.model_validate(
        {
            "title": "A test lab",
            "task": task or "Something is broken.\n\n**Constraints:**\n- Keep it small.\n",
            "difficulty": "easy",
            "category": "test",
            "manifests": [DEPLOYMENT, SERVICE],
            "symptoms": [{"name": "s", "description": "d", "podsReady": {"selector": {"a": "b"}}}],
            "checks": [{"name": "c", "description": "d", "podsReady": {"selector": {"a": "b"}}}],
            "solution": {"explanation": "e", "steps": [{"waitSeconds": 1}]},
            "invariants": invariants,
        }
    )


WEB_RULES: dict[str, Any] = {
    "objects": [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "mayChange": ["spec.template.spec.containers[*].command"],
            "exact": ["spec.template.spec.nodeName", "spec.template.spec.tolerations"],
            "keepUid": True,
            "constraint": "Keep the Deployment `web` (edit it, do not delete it).",
            "why": "the task says to edit web in place",
        }
    ],
    "mayAdd": [{"kind": "ConfigMap", "expect": {"data": {"mode": "fixed"}}, "why": "only fixes"}],
}


def guard(invariants: dict[str, Any] | None = None) -> Check:
    rendered = render(scenario(invariants or WEB_RULES), "test", "t", 1)
    return next(c for c in rendered.checks if c.name == INVARIANTS_CHECK)


def snapshot(*objects: dict[str, Any], uids: dict[str, str] | None = None) -> Snapshot:
    snap = Snapshot(now=0.0)
    recorded = uids if uids is not None else {"Deployment/web": "d1", "Service/web": "s1"}
    snap.objects[ObjectsNeed("v1", "Namespace", "")] = [
        {
            "metadata": {
                "name": NS,
                "annotations": {"breakfix.dev/provisioned-uids": json.dumps(recorded)},
            }
        }
    ]
    for obj in objects:
        key = ObjectsNeed(obj["apiVersion"], obj["kind"], NS)
        snap.objects.setdefault(key, []).append(obj)
    return snap


def as_provisioned() -> tuple[dict[str, Any], dict[str, Any]]:
    return served(DEPLOYMENT, "d1"), served(SERVICE, "s1")


def verdict(*objects: dict[str, Any]) -> tuple[bool, str]:
    result = evaluate(guard(), snapshot(*objects), NS)
    return result.passed, result.message


def test_server_defaults_and_normalized_quantities_are_no_change() -> None:
    passed, message = verdict(*as_provisioned())
    assert passed, message
    assert message.startswith("the 2 objects the lab created are as provisioned")


def test_a_path_the_fix_may_change_passes() -> None:
    deployment, service = as_provisioned()
    deployment["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "nc -ll"]
    assert verdict(deployment, service)[0]


def test_a_forbidden_field_changed_fails_naming_object_path_and_why() -> None:
    deployment, service = as_provisioned()
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["true"]}
    }
    passed, message = verdict(deployment, service)
    assert not passed
    assert message == (
        "Deployment web: spec.template.spec.containers[0].readinessProbe.tcpSocket was removed "
        '(provisioned {"port": 8080}) (the task says to edit web in place)'
    )


def test_a_value_changed_and_an_annotation_removed_are_both_named() -> None:
    deployment, service = as_provisioned()
    deployment["spec"]["replicas"] = 0
    del deployment["metadata"]["annotations"]
    service["spec"]["ports"][0]["port"] = 8080
    passed, message = verdict(deployment, service)
    assert not passed
    assert "Deployment web: spec.replicas is 0, provisioned 1" in message
    assert (
        'Deployment web: metadata.annotations was removed (provisioned {"ops/note": "keep"})'
        in (message)
    )
    # An object without a rule says the general constraint, which the task states.
    assert "Service web: spec.ports[0].port is 8080, provisioned 80 (Change only what" in message


def test_a_field_added_where_the_manifest_sets_nothing_fails_under_exact() -> None:
    deployment, service = as_provisioned()
    deployment["spec"]["template"]["spec"]["nodeName"] = "kind-worker"
    passed, message = verdict(deployment, service)
    assert not passed
    assert message.startswith(
        'Deployment web: spec.template.spec.nodeName is "kind-worker", provisioned without it'
    )


def test_an_extra_toleration_fails_under_exact_but_an_extra_map_key_elsewhere_does_not() -> None:
    deployment, service = as_provisioned()
    deployment["spec"]["template"]["spec"]["tolerations"].append({"operator": "Exists"})
    passed, message = verdict(deployment, service)
    assert not passed
    assert message.startswith(
        'Deployment web: spec.template.spec.tolerations is [{"key": "team", "operator": "Equal", '
        '"value": "a"}, {"operator": "Exists"}], provisioned [{"key": "team", '
    )
    deployment, service = as_provisioned()
    deployment["spec"]["template"]["metadata"]["annotations"] = {"restartedAt": "now"}
    assert verdict(deployment, service)[0]


def test_a_deleted_object_and_a_recreated_one_fail_by_uid() -> None:
    deployment, service = as_provisioned()
    passed, message = verdict(service)
    assert not passed
    assert message.startswith("Deployment web is gone: the lab created it and the task keeps it")
    deployment["metadata"]["uid"] = "d2"
    passed, message = verdict(deployment, service)
    assert not passed
    assert message == (
        "Deployment web was deleted and created again (its uid changed since the lab was "
        "provisioned); the task says to edit it, not to recreate it (the task says to edit web "
        "in place)"
    )


def test_recreated_without_keep_uid_is_compared_like_the_original() -> None:
    deployment, service = as_provisioned()
    service["metadata"]["uid"] = "s2"  # no keepUid on the Service: same content passes
    assert verdict(deployment, service)[0]


def test_may_delete() -> None:
    rules = copy.deepcopy(WEB_RULES)
    rules["objects"].append({"kind": "Service", "name": "web", "mayDelete": True})
    deployment, _ = as_provisioned()
    assert evaluate(guard(rules), snapshot(deployment), NS).passed


def test_an_extra_object_of_an_allowed_kind_passes_if_it_follows_the_rule() -> None:
    good = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": {"mode": "fixed"},
    }
    bad = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "y"},
        "data": {"mode": "open"},
    }
    assert verdict(*as_provisioned(), good)[0]
    passed, message = verdict(*as_provisioned(), bad)
    assert not passed
    assert message == (
        'ConfigMap y is new in lab-t: data.mode: expected "fixed", got "open" (only fixes)'
    )


def test_an_extra_object_of_a_kind_not_allowed_fails() -> None:
    stray = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-standin"}}
    passed, message = verdict(*as_provisioned(), stray)
    assert not passed
    assert message.startswith("Pod web-standin is new in lab-t: the task lets a fix create no Pod")


def test_objects_made_by_controllers_the_namespace_or_the_operator_are_not_new() -> None:
    owned = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-1",
            "ownerReferences": [{"kind": "Deployment", "controller": True}],
        },
    }
    root_ca = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt"}}
    probe = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"breakfix.dev/probe": "x"}},
    }
    learner = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "breakfix-learner"},
    }
    passed, message = verdict(*as_provisioned(), owned, root_ca, probe, learner)
    assert passed, message


def test_needs_the_provisioned_kinds_and_every_cached_namespaced_kind() -> None:
    needs = guard().needs(NS)
    assert ObjectsNeed("v1", "Namespace", "") in needs
    assert ObjectsNeed("apps/v1", "Deployment", NS) in needs
    assert all(ObjectsNeed(a, k, NS) in needs for a, k in NEW_OBJECT_KINDS)
    assert guard().body.wakes_on(NS) == set()


def test_a_list_of_unnamed_elements_is_matched_by_content_in_any_order() -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "X",
        "metadata": {"name": "x"},
        "spec": {"l": [{"a": 1}, {"a": 2}]},
    }
    assert object_changes(manifest, {"spec": {"l": [{"a": 2, "d": 0}, {"a": 1}]}}) == []
    assert [str(c) for c in object_changes(manifest, {"spec": {"l": [{"a": 2}, {"a": 3}]}})] == [
        "spec.l[0].a is 3, provisioned 1"
    ]


def test_paths() -> None:
    assert parse_path('spec.nodeSelector["kubernetes.io/os"]') == (
        "spec",
        "nodeSelector",
        "kubernetes.io/os",
    )
    assert parse_path("spec.containers[*].command") == ("spec", "containers", "*", "command")
    assert show_path(("spec", "containers", 0, "kubernetes.io/os")) == (
        'spec.containers[0]["kubernetes.io/os"]'
    )
    for bad in ("", "[0]", "spec..x", "spec[x]"):
        with pytest.raises(ValueError):
            parse_path(bad)


# The declaration as the task states it, and what the validator makes of it.


def test_the_task_states_each_rule_and_the_rest() -> None:
    rendered = render(scenario(WEB_RULES), "test", "t", 1)
    assert rendered.task == (
        "Something is broken.\n\n**Constraints:**\n- Keep it small.\n"
        "- Keep the Deployment `web` (edit it, do not delete it).\n"
        "- Change only what the fix needs: everything else the lab created stays as it was "
        "provisioned, and the only new objects a fix may create in `lab-t` are of kind "
        "ConfigMap.\n"
    )


def test_constraints_go_at_the_end_of_the_list_or_into_a_new_one() -> None:
    task = "Intro.\n\n**Constraints:**\n- One\n  wrapped.\n\n*(a note)*\n"
    assert with_constraints(task, ["Two."]) == (
        "Intro.\n\n**Constraints:**\n- One\n  wrapped.\n- Two.\n\n*(a note)*\n"
    )
    assert with_constraints("Intro.\n", ["Two."]) == "Intro.\n\n**Constraints:**\n- Two.\n"


def test_a_rule_for_an_object_the_lab_does_not_provision_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"invariants.objects\[0\]: the lab provisions no"):
        scenario({"objects": [{"kind": "Service", "name": "api"}]})
    with pytest.raises(ValidationError, match=r"not a field path"):
        scenario({"objects": [{"kind": "Service", "name": "web", "mayChange": ["spec..x"]}]})


def test_the_check_cannot_be_written_by_hand() -> None:
    with pytest.raises(ValidationError, match=r"declare `invariants` in lab.yaml"):
        ScenarioSpec.model_validate(
            {
                **scenario(WEB_RULES).model_dump(by_alias=True, exclude_none=True),
                "invariants": None,
                "checks": [{"name": "k", "description": "d", "provisionedKept": {}}],
            }
        )
