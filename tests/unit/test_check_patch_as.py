"""`patchAs` verdicts on hand-built agent answers (pure), the agent's input rules, and how the
agent follows a node's symlinks (the kubelet's client certificate) inside the host's root."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from breakfix.agent.credentials import dry_run_patch, on_host
from breakfix.checks.patch_as import PatchAsCheck
from breakfix.checks.snapshot import PatchAsNeed, Snapshot

CONF = "/etc/kubernetes/kubelet.conf"
NODE = "/api/v1/nodes/cp"
LABEL = {"metadata": {"labels": {"node-restriction.kubernetes.io/escape": "yes"}}}
REFUSED = 'nodes "cp" is forbidden: is not allowed to modify labels: node-restriction...'


def check(**fields: Any) -> PatchAsCheck:
    return PatchAsCheck.model_validate(
        {"node": "cp", "kubeconfig": CONF, "path": NODE, "patch": LABEL, **fields}
    )


def verdict(c: PatchAsCheck, answer: dict[str, Any]) -> tuple[bool, str]:
    [need] = c.needs("lab-a")
    assert isinstance(need, PatchAsNeed)
    snapshot = Snapshot(now=0.0)
    snapshot.patches[need] = answer
    v = c.verdict(snapshot, "lab-a")
    return v.passed, v.message


def test_refused_for_the_named_rule_only() -> None:
    refused = check(allowed=False, messageContains="is not allowed to modify labels")
    assert verdict(refused, {"status": 403, "error": REFUSED})[0]
    passed, message = verdict(refused, {"status": 200, "error": ""})
    assert not passed and message.endswith("is allowed")
    # Refused by RBAC instead (the kubelet's rights cut): not the rule the task is about.
    rbac = 'nodes "cp" is forbidden: User "system:node:cp" cannot patch resource "nodes"'
    passed, message = verdict(refused, {"status": 403, "error": rbac})
    assert not passed and "but not for 'is not allowed to modify labels'" in message


def test_no_answer_is_neither_allowed_nor_refused() -> None:
    for answer in (
        {"status": 0, "error": "ClientConnectorError"},
        {"status": 401, "error": "Unauthorized"},
        {"status": 503, "error": "unavailable"},
    ):
        assert not verdict(check(allowed=False), answer)[0]
        assert not verdict(check(allowed=True), answer)[0]


def test_allowed_must_be_allowed() -> None:
    assert verdict(check(allowed=True), {"status": 200, "error": ""})[0]
    passed, message = verdict(check(allowed=True), {"status": 403, "error": REFUSED})
    assert not passed and "is refused" in message


def test_equal_patches_are_one_need() -> None:
    reordered = {"metadata": {"labels": {"node-restriction.kubernetes.io/escape": "yes"}}}
    assert check(allowed=False).needs("a") == check(allowed=True, patch=reordered).needs("a")


def test_the_agent_sends_only_dry_run_merge_patches_to_api_paths() -> None:
    for bad in (
        {"path": "/root/.kube/config", "target": NODE, "body": LABEL},
        {"path": CONF, "target": "https://elsewhere/api", "body": LABEL},
        {"path": CONF, "target": NODE, "body": ["not", "an", "object"]},
    ):
        with pytest.raises(ValueError):
            asyncio.run(dry_run_patch(Path("/nonexistent"), **bad))


def test_an_absolute_symlink_is_followed_inside_the_hosts_root(tmp_path: Path) -> None:
    pki = tmp_path / "var/lib/kubelet/pki"
    pki.mkdir(parents=True)
    (pki / "kubelet-client-2026.pem").write_text("cert")
    (pki / "kubelet-client-current.pem").symlink_to("/var/lib/kubelet/pki/kubelet-client-2026.pem")
    (pki / "relative.pem").symlink_to("kubelet-client-current.pem")
    for name in ("kubelet-client-current.pem", "relative.pem"):
        found = on_host(tmp_path, f"/var/lib/kubelet/pki/{name}")
        assert found == pki / "kubelet-client-2026.pem"
        assert found.read_text() == "cert"
