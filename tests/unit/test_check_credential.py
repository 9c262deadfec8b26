"""`credential` verdicts on hand-built agent answers (pure), and the agent's own input rules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from breakfix.agent.credentials import whoami
from breakfix.checks.credential import CredentialCheck
from breakfix.checks.snapshot import CredentialNeed, Snapshot

CONF = "/etc/kubernetes/jane.conf"
PODS = "/api/v1/namespaces/lab-a/pods"


def check(**fields: Any) -> CredentialCheck:
    return CredentialCheck.model_validate(
        {"node": "cp", "kubeconfig": CONF, "user": "jane", **fields}
    )


def verdict(c: CredentialCheck, answer: dict[str, Any]) -> tuple[bool, str]:
    [need] = c.needs("lab-a")
    assert isinstance(need, CredentialNeed)
    snapshot = Snapshot(now=0.0)
    snapshot.identities[(need.node, need.kubeconfig, need.get)] = answer
    v = c.verdict(snapshot, "lab-a")
    return v.passed, v.message


def jane(groups: list[str], get: int | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": 201, "user": "jane", "groups": groups, "error": ""}
    if get is not None:
        answer["get"] = {"status": get, "error": "" if get == 200 else "pods is forbidden"}
    return answer


def test_untrusted_certificate_fails_and_is_the_refused_symptom() -> None:
    unauthorized = {"status": 401, "user": "", "groups": [], "error": "Unauthorized"}
    assert verdict(check(), unauthorized) == (
        False,
        f"a request with {CONF} on cp fails: Unauthorized",
    )
    assert verdict(check(refused=True), unauthorized)[0]
    assert not verdict(check(refused=True), jane(["developers"]))[0]


def test_groups_are_compared_as_a_whole_set() -> None:
    exact = check(groups=["developers"])
    assert verdict(exact, jane(["developers", "system:authenticated"]))[0]
    passed, message = verdict(exact, jane(["developers", "system:masters", "system:authenticated"]))
    assert not passed and "system:masters" in message
    passed, message = verdict(exact, jane(["system:authenticated"]))
    assert not passed and "in groups none, not in developers" in message
    # Without `groups`, any group set passes: the identity alone is checked.
    assert verdict(check(), jane(["system:masters"]))[0]


def test_the_read_must_really_be_allowed() -> None:
    c = check(groups=["developers"], get=PODS)
    assert c.needs("lab-a") == [CredentialNeed("cp", CONF, PODS)]
    assert verdict(c, jane(["developers"], get=200))[0]
    passed, message = verdict(c, jane(["developers"], get=403))
    assert (
        not passed and "GET /api/v1/namespaces/lab-a/pods is refused: pods is forbidden" in message
    )
    # An agent that could not make the second request is not an allowed read.
    assert not verdict(c, jane(["developers"]))[0]


def test_another_identity_fails() -> None:
    admin = {"status": 201, "user": "kubernetes-admin", "groups": ["kubeadm:cluster-admins"]}
    assert verdict(check(), admin) == (
        False,
        f"{CONF} on cp authenticates as kubernetes-admin, not as jane",
    )


def test_the_agent_reads_the_api_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an API path"):
        asyncio.run(whoami(tmp_path, CONF, "/healthz/../api"))
    with pytest.raises(ValueError, match="not a kubeconfig"):
        asyncio.run(whoami(tmp_path, "/etc/shadow"))
    answer = asyncio.run(whoami(tmp_path, CONF, PODS))
    assert answer["status"] == 0 and "unusable kubeconfig" in answer["error"]


def test_the_agent_reads_a_refusal_as_a_refusal(tmp_path: Path) -> None:
    """A real API server's 401 is a Status whose `status` is the word "Failure"."""
    from aiohttp import web

    async def scenario() -> dict[str, Any]:
        async def refuse(request: web.Request) -> web.Response:
            return web.json_response(
                {"kind": "Status", "status": "Failure", "message": "Unauthorized", "code": 401},
                status=401,
            )

        app = web.Application()
        app.router.add_post("/apis/authentication.k8s.io/v1/selfsubjectreviews", refuse)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        conf = tmp_path / CONF.lstrip("/")
        conf.parent.mkdir(parents=True)
        conf.write_text(
            json.dumps(
                {
                    "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                    "current-context": "x",
                }
            )
        )
        try:
            return await whoami(tmp_path, CONF)
        finally:
            await runner.cleanup()

    answer = asyncio.run(scenario())
    assert answer == {"status": 401, "user": "", "groups": [], "error": "Unauthorized"}


def test_node_side_checks_look_again_soon_as_no_watch_sees_a_file_change() -> None:
    from breakfix.checks.check import Check, evaluate

    body = {"node": "cp", "kubeconfig": CONF, "user": "jane"}
    c = Check.model_validate({"name": "jane", "description": "d", "credential": body})
    snapshot = Snapshot(now=100.0)
    snapshot.identities[("cp", CONF, "")] = jane([])
    result = evaluate(c, snapshot, "lab-a")
    assert result.passed and result.recheck_at == 102.0
    # Checks on API objects are woken by their watches instead.
    pods = Check.model_validate(
        {"name": "p", "description": "d", "podsReady": {"selector": {"app": "x"}}}
    )
    assert evaluate(pods, Snapshot(now=100.0), "lab-a").recheck_at is None
