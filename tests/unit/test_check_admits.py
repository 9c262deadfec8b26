"""admits: admission's own answer to a dry-run create, not the policies' objects."""

import json

import pytest
from pydantic import ValidationError

from breakfix.checks.admits import resubmitted
from breakfix.checks.check import Check, evaluate
from breakfix.checks.snapshot import (
    AdmissionAnswer,
    AdmissionNeed,
    ObjectsNeed,
    PodsAdmissionNeed,
    Snapshot,
)
from breakfix.kube.client import admission_refusal

NS = "lab-t"
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "spec": {"containers": [{"name": "c", "image": "evil.example/miner:latest"}]},
}


def admits(**body: object) -> Check:
    return Check.model_validate(
        {"name": "a", "description": "d", "admits": {"object": POD, **body}}
    )


def answered(check: Check, answer: AdmissionAnswer) -> Snapshot:
    snap = Snapshot(now=0.0)
    [need] = check.body.needs(NS)
    assert isinstance(need, AdmissionNeed)
    snap.admissions[need] = answer
    return snap


def test_the_object_is_tried_in_the_lab_namespace_under_a_generated_name() -> None:
    [need] = admits().body.needs(NS)
    assert isinstance(need, AdmissionNeed)
    body = json.loads(need.body)
    assert body["metadata"] == {"namespace": NS, "generateName": "breakfix-admits-"}
    assert need.namespace == NS
    # The model itself is not changed: the next lab gets its own namespace.
    assert "metadata" not in admits().body.model_dump()["object"]


def test_a_given_name_is_kept() -> None:
    pod = {**POD, "metadata": {"name": "probe", "namespace": "elsewhere"}}
    check = Check.model_validate({"name": "a", "description": "d", "admits": {"object": pod}})
    [need] = check.body.needs(NS)
    assert json.loads(need.body)["metadata"] == {"name": "probe", "namespace": NS}


def test_refused_when_it_should_be_refused() -> None:
    check = admits(allowed=False, messageContains="registry-allowlist")
    result = evaluate(
        check,
        answered(
            check,
            AdmissionAnswer(False, "403 ValidatingAdmissionPolicy 'registry-allowlist' denied"),
        ),
        NS,
    )
    assert result.passed
    assert "refuses creating a Pod with image evil.example/miner:latest" in result.message


def test_refused_for_another_reason_does_not_count() -> None:
    check = admits(allowed=False, messageContains="registry-allowlist", why="only the policy")
    result = evaluate(check, answered(check, AdmissionAnswer(False, "403 exceeded quota")), NS)
    assert not result.passed
    assert "not for the reason wanted" in result.message and "(only the policy)" in result.message


def test_admitted_when_it_should_be_refused_fails() -> None:
    # A binding in Warn or Audit admits: the policy exists and refuses nothing.
    check = admits(allowed=False)
    result = evaluate(check, answered(check, AdmissionAnswer(True)), NS)
    assert not result.passed and "it should refuse it" in result.message


def test_refused_when_it_should_be_admitted_fails() -> None:
    check = admits()
    result = evaluate(check, answered(check, AdmissionAnswer(False, "403 denied")), NS)
    assert not result.passed and "it should admit it" in result.message
    assert evaluate(check, answered(check, AdmissionAnswer(True)), NS).passed


def test_no_answer_is_not_a_pass() -> None:
    for allowed in (True, False):
        result = evaluate(admits(allowed=allowed), Snapshot(now=0.0), NS)
        assert not result.passed


def test_wakes_on_the_cluster_scoped_kinds_that_decide() -> None:
    assert admits().body.wakes_on(NS) == {
        "Namespace",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
    }


@pytest.mark.parametrize(
    ("status", "message", "refusal"),
    [
        (403, 'pods "x" is forbidden: violates PodSecurity "restricted:latest"', True),
        (422, "Pod is invalid: spec.containers: Required value", True),
        # A webhook that cannot be called under failurePolicy: Fail refuses with a 500.
        (
            500,
            'Internal error occurred: failed calling webhook "scan.lab-t.breakfix.dev": '
            'no endpoints available for service "scanner"',
            True,
        ),
        (500, "Internal error occurred: etcdserver: request timed out", False),
        (403, 'pods is forbidden: User "x" cannot create resource "pods"', False),
        (409, "already exists", False),
        (503, "the server is currently unable to handle the request", False),
    ],
)
def test_which_api_errors_are_admissions_answer(status: int, message: str, refusal: bool) -> None:
    assert admission_refusal(status, message) is refusal


def test_an_object_without_kind_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="apiVersion and kind"):
        Check.model_validate({"name": "a", "description": "d", "admits": {"object": {"spec": {}}}})


def pods_check(**body: object) -> Check:
    return Check.model_validate(
        {"name": "a", "description": "d", "admits": {"pods": {"app": "worker"}, **body}}
    )


def running(name: str, app: str = "worker", deleting: bool = False) -> dict:
    meta: dict = {"name": name, "namespace": NS, "labels": {"app": app}, "uid": "u1"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs"}]
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "c"}], "ephemeralContainers": [{"name": "dbg"}]},
        "status": {"phase": "Running"},
    }


def pods_snapshot(answers: dict[str, AdmissionAnswer]) -> Snapshot:
    snap = Snapshot(now=0.0)
    snap.objects[ObjectsNeed("v1", "Pod", NS)] = [
        running("w-1"),
        running("w-2"),
        running("w-old", deleting=True),
        running("other", app="other"),
    ]
    snap.pod_admissions = {(NS, k): v for k, v in answers.items()}
    return snap


def test_a_running_pod_is_resubmitted_with_its_spec_and_labels_only() -> None:
    body = resubmitted(running("w-1"), NS)
    assert body["metadata"] == {
        "generateName": "w-1-admits-",
        "namespace": NS,
        "labels": {"app": "worker"},
    }
    assert body["spec"] == {"containers": [{"name": "c"}]}
    assert "status" not in body


def test_every_live_selected_pod_must_be_admitted_as_it_runs() -> None:
    check = pods_check()
    assert check.body.needs(NS) == [
        ObjectsNeed("v1", "Pod", NS),
        PodsAdmissionNeed(NS, (("app", "worker"),)),
    ]
    ok = AdmissionAnswer(True)
    result = evaluate(check, pods_snapshot({"w-1": ok, "w-2": ok}), NS)
    assert result.passed and "each of 2" in result.message
    refused = AdmissionAnswer(False, '403 violates PodSecurity "restricted:latest"')
    result = evaluate(check, pods_snapshot({"w-1": ok, "w-2": refused}), NS)
    assert not result.passed and "pod w-2 as it runs" in result.message
    # A pod whose answer is missing does not pass by default.
    assert not evaluate(check, pods_snapshot({"w-1": ok}), NS).passed


def test_too_few_pods_fail() -> None:
    snap = Snapshot(now=0.0)
    snap.objects[ObjectsNeed("v1", "Pod", NS)] = []
    result = evaluate(pods_check(), snap, NS)
    assert not result.passed and "0 running, need 1" in result.message


def test_object_and_pods_are_exclusive() -> None:
    with pytest.raises(ValidationError, match="exactly one of object or pods"):
        Check.model_validate(
            {"name": "a", "description": "d", "admits": {"object": POD, "pods": {}}}
        )
