"""identityKept: "edit it, do not delete it" enforced by the uid recorded at provisioning."""

import json

from breakfix.checks.check import Check, evaluate
from breakfix.checks.snapshot import ObjectsNeed, Snapshot

NS = "lab-t"


def id_check() -> Check:
    return Check.model_validate(
        {
            "name": "i",
            "description": "d",
            "identityKept": {
                "objects": [{"kind": "Service", "name": "api", "why": "clients hold its IP"}]
            },
        }
    )


def snapshot(uid: str | None, recorded: dict[str, str] | None) -> Snapshot:
    annotations = (
        {} if recorded is None else {"breakfix.dev/provisioned-uids": json.dumps(recorded)}
    )
    snap = Snapshot(now=0.0)
    snap.objects[ObjectsNeed("v1", "Namespace", "")] = [
        {"metadata": {"name": NS, "annotations": annotations}}
    ]
    snap.objects[ObjectsNeed("v1", "Service", NS)] = (
        [] if uid is None else [{"metadata": {"name": "api", "uid": uid}}]
    )
    return snap


def test_needs_the_namespace_and_the_kinds_named() -> None:
    assert id_check().needs(NS) == [
        ObjectsNeed("v1", "Namespace", ""),
        ObjectsNeed("v1", "Service", NS),
    ]


def test_the_same_object_passes() -> None:
    result = evaluate(id_check(), snapshot("u1", {"Service/api": "u1"}), NS)
    assert result.passed
    assert result.message == "Service api: the same object(s) as provisioned, edited in place"


def test_a_recreated_object_fails_and_says_why() -> None:
    result = evaluate(id_check(), snapshot("u2", {"Service/api": "u1"}), NS)
    assert not result.passed
    assert result.message == (
        "Service api was deleted and created again (its uid changed since the lab was "
        "provisioned); the task says to edit it, not to recreate it: clients hold its IP"
    )


def test_gone_or_unrecorded() -> None:
    assert "is gone" in evaluate(id_check(), snapshot(None, {"Service/api": "u1"}), NS).message
    assert "does not record" in evaluate(id_check(), snapshot("u1", None), NS).message
