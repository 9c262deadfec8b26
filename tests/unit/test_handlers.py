"""The Kopf handlers' shared state lives in Kopf's memo, filled by the startup handler."""

from __future__ import annotations

import copy
import logging
from typing import Any

import kopf
import pytest

from breakfix.controller import handlers
from breakfix.controller.handlers import MEMO_KEY, Shared, cached_here, shared
from breakfix.kube.client import Kube
from breakfix.kube.watched import BY_API_KIND
from tests.unit.fake_kube import FakeKube

RBAC = "rbac.authorization.k8s.io/v1"


async def started(monkeypatch: pytest.MonkeyPatch) -> kopf.Memo:
    async def connect() -> FakeKube:
        return FakeKube()

    monkeypatch.setattr(Kube, "connect", connect)
    monkeypatch.setenv("BREAKFIX_SAFETY_SECONDS", "42")
    # The fake lists nothing for the RBAC informers: startup would wait its whole minute for them.
    monkeypatch.setattr(handlers, "INFORMER_SYNC_SECONDS", 0.05)
    memo = kopf.Memo()
    await handlers.startup(settings=kopf.OperatorSettings(), memo=memo)
    logging.getLogger("kopf.objects").removeFilter(handlers._routine)
    return memo


async def test_startup_fills_the_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = await started(monkeypatch)
    state = shared(memo)
    assert isinstance(state.kube, FakeKube) and state.settings.safety_seconds == 42
    # Kopf gives each resource a shallow copy of the memo: the state itself is shared.
    assert shared(copy.copy(memo)) is state


def test_handlers_refuse_to_run_without_startup() -> None:
    with pytest.raises(RuntimeError, match="startup"):
        shared(kopf.Memo())


async def test_a_lab_wakes_on_spec_changes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = await started(monkeypatch)
    signals = shared(memo).signals
    flag = signals.flag("t")

    async def changed(generation: int) -> None:
        raw = {"metadata": {"name": "t", "generation": generation}}
        body, meta = kopf.Body(raw), kopf.Meta(raw)
        await handlers.lab_changed(name="t", body=body, meta=meta, type="MODIFIED", memo=memo)

    await changed(1)
    assert flag.is_set()
    flag.clear()
    await changed(1)
    assert not flag.is_set()
    await changed(2)
    assert flag.is_set()


async def test_cleanup_closes_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = await started(monkeypatch)
    closed: list[bool] = []

    async def close() -> None:
        closed.append(True)

    state = memo[MEMO_KEY]
    assert isinstance(state, Shared)
    monkeypatch.setattr(state.kube, "close", close, raising=False)
    await handlers.cleanup(memo=memo)
    assert closed == [True] and MEMO_KEY not in memo


def test_the_cache_keeps_one_copy_of_each_string_and_no_managed_fields() -> None:
    def parsed(namespace: str) -> kopf.Body:
        # Two parses of the same text make equal strings that are not the same object.
        raw = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "kube-root-ca.crt",
                "namespace": namespace,
                "managedFields": [{"manager": "kube-controller-manager"}],
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "note": "kept",
                },
            },
            "data": {"ca.crt": "".join(["-----BEGIN CERTIFICATE-----", "x" * 1000])},
        }
        return kopf.Body(copy.deepcopy(raw))

    one, two = handlers.slim(parsed("lab-a")), handlers.slim(parsed("lab-b"))
    assert "managedFields" not in one["metadata"]
    assert one["metadata"]["annotations"] == {"note": "kept"}
    assert one["data"]["ca.crt"] is two["data"]["ca.crt"]
    assert one["metadata"]["namespace"] == "lab-a" and two["metadata"]["namespace"] == "lab-b"
    assert [k for k in one] == ["apiVersion", "kind", "metadata", "data"]


def test_a_request_kopf_tries_again_is_a_warning_and_one_it_gives_up_an_error() -> None:
    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("kopf.objects", logging.ERROR, __file__, 1, message, None, None)

    retried = record("Request attempt #1/302 failed; will retry: PATCH https://10.96.0.1/x")
    assert handlers._retried_is_a_warning(retried)
    assert (retried.levelno, retried.levelname) == (logging.WARNING, "WARNING")
    given_up = record("Request attempt #302/302 failed; escalating: PATCH https://10.96.0.1/x")
    assert handlers._retried_is_a_warning(given_up) and given_up.levelno == logging.ERROR


def test_the_caches_keep_lab_namespaces_and_the_kinds_read_across_namespaces() -> None:
    def obj(name: str, namespace: str | None = None) -> dict[str, Any]:
        return {"metadata": {"name": name, **({"namespace": namespace} if namespace else {})}}

    pods, bindings = BY_API_KIND[("v1", "Pod")], BY_API_KIND[(RBAC, "RoleBinding")]
    namespaces, nodes = BY_API_KIND[("v1", "Namespace")], BY_API_KIND[("v1", "Node")]
    assert cached_here(pods, obj("web", "lab-a")) and cached_here(pods, obj("dns", "kube-system"))
    assert not cached_here(pods, obj("web", "default"))
    assert cached_here(bindings, obj("admin", "default"))
    assert cached_here(namespaces, obj("lab-a")) and not cached_here(namespaces, obj("default"))
    assert cached_here(nodes, obj("kind-worker"))
