"""`audited` verdicts on hand-built agent answers, how the agent finds an event in a log and what
of it leaves the node (pure), and the agent's input rules. The real path (a request, its
Audit-Id, the API server's own log) is the self-test of the lab that uses it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from breakfix.agent.audit import audited, find, outline
from breakfix.checks.audited import AuditedCheck
from breakfix.checks.snapshot import AuditNeed, Snapshot

LOG = "/var/log/kubernetes/audit/audit.log"
SECRET = "/api/v1/namespaces/lab-a/secrets/canary"


def check(**fields: Any) -> AuditedCheck:
    return AuditedCheck.model_validate({"node": "cp", "get": SECRET, "log": LOG, **fields})


def verdict(c: AuditedCheck, answer: dict[str, Any]) -> tuple[bool, str]:
    [need] = c.needs("lab-a")
    assert isinstance(need, AuditNeed)
    snapshot = Snapshot(now=0.0)
    snapshot.audits[need] = answer
    v = c.verdict(snapshot, "lab-a")
    return v.passed, v.message


def answer(level: str | None, log: bool = True) -> dict[str, Any]:
    event = None if level is None else {"level": level, "stage": "ResponseComplete"}
    return {"status": 200, "auditID": "a1", "log": log, "event": event, "error": ""}


def test_the_level_must_be_the_policys() -> None:
    metadata = check(level="Metadata")
    assert verdict(metadata, answer("Metadata")) == (
        True,
        f"GET {SECRET} is logged at Metadata in {LOG}",
    )
    # A policy that logs everything in full is as wrong as one that logs nothing.
    passed, message = verdict(metadata, answer("RequestResponse"))
    assert not passed and "logged at RequestResponse; it should be at Metadata" in message
    passed, message = verdict(metadata, answer(None))
    assert not passed and "is not in" in message


def test_left_out_passes_only_when_the_log_exists() -> None:
    none = check(level="None")
    assert verdict(none, answer(None))[0]
    passed, message = verdict(none, answer(None, log=False))
    assert not passed and f"no audit log at {LOG}" in message
    passed, message = verdict(none, answer("Metadata"))
    assert not passed and "it should be not at all" in message


def test_no_answer_from_the_api_server_fails() -> None:
    down = {"status": 0, "error": "ClientConnectorError: refused", "log": True, "event": None}
    passed, message = verdict(check(level="None"), down)
    assert not passed and "got no answer: ClientConnectorError" in message


def test_paths_outside_the_audit_directory_are_refused_at_the_door() -> None:
    with pytest.raises(ValidationError):
        check(level="Metadata", log="/etc/kubernetes/pki/ca.key")
    with pytest.raises(ValidationError):
        check(level="Metadata", log="/var/log/kubernetes/audit/../../../etc/shadow.log")
    for bad in (
        {"kubeconfig": "/root/.kube/config", "get": SECRET, "log": LOG},
        {"kubeconfig": "/etc/kubernetes/admin.conf", "get": "https://evil/", "log": LOG},
        {"kubeconfig": "/etc/kubernetes/admin.conf", "get": SECRET, "log": "/etc/passwd"},
    ):
        with pytest.raises(ValueError):
            asyncio.run(audited(Path("/nonexistent"), **bad))


def test_the_last_stage_of_the_request_is_found_and_only_its_outline_leaves() -> None:
    def line(audit_id: str, stage: str, **extra: Any) -> str:
        event = {"auditID": audit_id, "stage": stage, "level": "RequestResponse", "verb": "get"}
        return json.dumps({**event, **extra}, separators=(",", ":"))

    text = "\n".join(
        [
            line("other", "ResponseComplete"),
            line("a1", "ResponseStarted"),
            'not json {"auditID":"a1"',
            line(
                "a1",
                "ResponseComplete",
                responseObject={"data": {"password": "s3cret"}},
                user={"username": "kubernetes-admin"},
            ),
        ]
    )
    event = find(text, "a1")
    assert event is not None and event["stage"] == "ResponseComplete"
    short = outline(event)
    assert short == {
        "level": "RequestResponse",
        "stage": "ResponseComplete",
        "verb": "get",
        "user": "kubernetes-admin",
        "requestObject": False,
        "responseObject": True,
    }
    assert "s3cret" not in json.dumps(short)
    assert find(text, "missing") is None
