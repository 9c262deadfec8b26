"""The executor against an in-memory API: it runs what decide() asks, in order, and feeds the
answers back. (decide() itself is covered by test_decide.py.)"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import aiohttp
import pytest

from breakfix.controller.lab_loop import (
    RETRY_MAX_SECONDS,
    LabLoop,
    LoopSettings,
    retry_delay,
    solves,
    status_patch,
)
from breakfix.controller.signals import Signals
from breakfix.kube.client import ApiException
from breakfix.lab.actions import Decision, PostEvent, WriteStatus
from breakfix.lab.conditions import condition
from breakfix.lab.nodes import HOLDER
from tests.unit.fake_kube import FakeKube
from tests.unit.test_decide import scenario

CONFIGMAP = ("v1", "ConfigMap", "lab-t", "app")


class CacheView(Mapping[str, Any]):
    """The Namespace and Node watch caches, as the fake API holds them right now."""

    KINDS: ClassVar[dict[str, str]] = {"cache_namespaces": "Namespace", "cache_nodes": "Node"}

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube

    def __getitem__(self, key: str) -> Any:
        kind = self.KINDS[key]
        return {"": [o for (_, k, _, _), o in sorted(self.kube.objects.items()) if k == kind]}

    def __iter__(self) -> Iterator[str]:
        return iter(self.KINDS)

    def __len__(self) -> int:
        return len(self.KINDS)


class Lab:
    def __init__(self, spec: dict[str, Any], kube: FakeKube | None = None) -> None:
        self.kube = kube or FakeKube()
        self.events: list[str] = []
        self.body: dict[str, Any] = {
            "metadata": {"name": "t", "uid": "u", "generation": 1},
            "spec": spec,
        }

        async def post(type_: str, reason: str, message: str) -> None:
            self.events.append(reason)

        self.signals = Signals()
        self.loop = LabLoop(
            kube=self.kube,  # type: ignore[arg-type]
            signals=self.signals,
            settings=LoopSettings(),
            body=self.body,
            indexes=CacheView(self.kube),
            scenarios={"s": scenario(), "n": scenario(node_changes=True)},
            post_event=post,
            logger=logging.getLogger("test"),
        )

    async def step(self) -> list[tuple[Any, ...]]:
        self.kube.calls.clear()
        self.events.clear()
        await self.loop.step()
        return [c[:2] for c in self.kube.calls if c[0] != "list"]

    def reason(self, type_: str) -> str:
        return str((condition(self.loop.written, type_) or {}).get("reason"))


async def test_provision_grade_and_reset() -> None:
    lab = Lab({"scenario": "s", "seed": 7})
    calls = await lab.step()
    assert calls == [
        ("apply", "Namespace"),
        ("apply", "ConfigMap"),
        ("patch", "Namespace"),
        ("patch_status", "Lab"),
    ]
    assert lab.events == ["Provisioned"] and lab.reason("Ready") == "SymptomsConfirmed"
    # The provisioned objects' uids are recorded on the namespace, for identityKept checks.
    [ns] = [o for k, o in lab.kube.objects.items() if k[1] == "Namespace"]
    uids = json.loads(ns["metadata"]["annotations"]["breakfix.dev/provisioned-uids"])
    [(key, uid)] = uids.items()
    assert key.startswith("ConfigMap/") and uid.startswith("uid-ConfigMap-")

    # Nothing changed: nothing written, nothing said.
    assert await lab.step() == [] and lab.events == []
    lab.kube.objects[CONFIGMAP]["data"] = {"mode": "fixed"}
    assert await lab.step() == [("patch_status", "Lab")]
    assert lab.events == ["CheckPassed", "Solved"] and lab.reason("Solved") == "AllChecksPassed"
    assert await lab.step() == [] and lab.events == []

    lab.body["spec"] = {"scenario": "s", "seed": 7, "reset": 1}
    calls = await lab.step()
    assert calls[:3] == [("patch_status", "Lab"), ("delete", "Namespace"), ("get", "Namespace")]
    assert calls[3:] == [
        ("apply", "Namespace"),
        ("apply", "ConfigMap"),
        ("patch", "Namespace"),
        ("patch_status", "Lab"),
    ]
    assert lab.events == ["Reset", "Provisioned"]
    assert lab.loop.written["observedReset"] == 1


async def test_refused_provisioning_is_torn_down_and_reported() -> None:
    lab = Lab({"scenario": "s"}, FakeKube(reject={"ConfigMap": "configmaps is forbidden"}))
    calls = await lab.step()
    assert ("delete", "Namespace") in calls and calls[-1] == ("patch_status", "Lab")
    assert lab.events == ["ProvisioningFailed", "ProvisioningFailed"]
    ready = condition(lab.loop.written, "Ready") or {}
    assert ready["message"] == "could not create the scenario's objects: configmaps is forbidden"


async def test_node_change_is_recorded_before_the_manifests_and_reverted_on_reset() -> None:
    kube = FakeKube()
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n1", "resourceVersion": "1"},
            "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    lab = Lab({"scenario": "n", "seed": 1}, kube)
    calls = await lab.step()
    assert calls[:5] == [
        ("apply", "Namespace"),
        ("get", "Node"),
        ("patch", "Node"),
        ("patch_status", "Lab"),
        ("apply", "ConfigMap"),
    ]
    node = kube.objects[("v1", "Node", "", "n1")]
    assert node["spec"]["unschedulable"] and node["metadata"]["annotations"][HOLDER] == "t"
    assert lab.loop.written["nodeChanges"][0]["node"] == "n1"

    lab.body["spec"] = {"scenario": "n", "seed": 1, "reset": 1}
    await lab.step()
    reverted = next(c for c in kube.calls if c[0] == "patch")
    assert reverted[3]["spec"]["unschedulable"] is None


def test_status_patch_nulls_removed_fields() -> None:
    assert status_patch({"a": 1, "b": 2}, {"a": 1, "c": 3}) == {"c": 3, "b": None}


async def _until(predicate: Any, seconds: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, "not within the time allowed"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@pytest.mark.parametrize(
    "outage",
    [
        ApiException(status=503, reason="Service Unavailable"),  # an API server starting
        aiohttp.ServerDisconnectedError(),  # one going away mid-request
    ],
    ids=["503", "disconnected"],
)
async def test_a_step_the_api_server_fails_is_tried_again_in_the_loop_not_by_kopf(
    outage: Exception,
) -> None:
    """An outage mid-step used to end the daemon (Kopf starts it again after 60 s): the loop
    now rides it out, and a fix made right after the API returns is graded within seconds."""
    lab = Lab({"scenario": "s", "seed": 7})
    stop = asyncio.Event()
    run = asyncio.create_task(lab.loop.run(stop.is_set, stop.wait))
    try:
        await _until(lambda: lab.reason("Ready") == "SymptomsConfirmed", 2)
        lab.kube.outage = outage
        lab.kube.objects[CONFIGMAP]["data"] = {"mode": "fixed"}
        lab.signals.lab("t")  # the fix's watch event: the step it wakes meets the outage
        await asyncio.sleep(retry_delay(1) + retry_delay(2) + 0.2)  # a few failed steps
        assert not run.done(), run.exception() if run.done() else None
        assert lab.reason("Solved") != "AllChecksPassed"

        lab.kube.outage = None
        # No watch event comes (the watch itself is still reconnecting): a retry grades it.
        took = await _until(lambda: lab.reason("Solved") == "AllChecksPassed", RETRY_MAX_SECONDS)
        assert took < RETRY_MAX_SECONDS
    finally:
        stop.set()
        await asyncio.wait_for(run, 5)


def test_retries_back_off_to_a_few_seconds() -> None:
    delays = [retry_delay(n) for n in range(1, 8)]
    assert delays[0] == 0.5 and delays == sorted(delays)
    assert delays[-1] == RETRY_MAX_SECONDS <= 5


def test_only_the_api_servers_own_trouble_is_tried_again() -> None:
    from breakfix.kube.client import transient

    assert transient(ApiException(status=503)) and transient(ApiException(status=429))
    assert transient(ConnectionRefusedError()) and transient(TimeoutError())
    assert transient(aiohttp.ServerDisconnectedError())
    # A refusal says something about the request (or a bug): Kopf reports it, as before.
    assert not transient(ApiException(status=403)) and not transient(ApiException(status=422))
    assert not transient(KeyError("spec"))


async def test_the_task_is_in_the_status_rendered_for_this_lab() -> None:
    lab = Lab({"scenario": "s", "seed": 7})
    lab.loop.scenarios["s"]["task"] = "Fix the config map `app` in `{{ namespace }}`."  # type: ignore[index]
    await lab.step()
    assert lab.loop.written["task"] == "Fix the config map `app` in `lab-t`."


def test_only_a_grading_that_newly_solves_the_lab_is_confirmed() -> None:
    def status(solved: str) -> dict[str, Any]:
        return {"conditions": [{"type": "Solved", "status": solved}]}

    solving = Decision(status("True"), [WriteStatus(status("True"))], 0.0)
    assert solves(solving, status("False"))
    assert solves(solving, {})
    # Solved already: a grading that keeps it so is not confirmed again.
    assert not solves(solving, status("True"))
    assert not solves(Decision(status("False"), [WriteStatus(status("False"))], 0.0), {})
    # Nothing written (an intermediate decision of the step): nothing to confirm yet.
    assert not solves(Decision(status("True"), [PostEvent("Normal", "X", "y")], None), {})


def test_a_terminating_ghost_of_an_earlier_lab_is_not_this_labs_namespace() -> None:
    """A namespace of an earlier Lab of the same name, whose deletion the cache never saw, sits
    beside this lab's own: judged by the ghost, the lab was reset in a loop."""
    lab = Lab({"scenario": "s", "seed": 1})
    ghost = {
        "metadata": {
            "name": "lab-t",
            "creationTimestamp": "2026-12-04T01:30:00Z",
            "resourceVersion": "100",
            "deletionTimestamp": "2026-12-04T01:33:00Z",
        }
    }
    live = {
        "metadata": {
            "name": "lab-t",
            "creationTimestamp": "2026-12-04T01:51:05Z",
            "resourceVersion": "900",
        }
    }
    for cache in ([ghost, live], [live, ghost]):
        lab.loop.indexes = {"cache_namespaces": {"": cache}}
        assert asyncio.run(lab.loop._namespace_exists({"provisioned": True}))
    lab.loop.indexes = {"cache_namespaces": {"": [ghost]}}
    assert not asyncio.run(lab.loop._namespace_exists({"provisioned": True}))


def test_only_a_grading_that_read_fresh_needs_has_anything_to_confirm() -> None:
    from breakfix.checks.snapshot import ObjectsNeed, Snapshot
    from breakfix.controller.lab_loop import reads_fresh

    pods = ObjectsNeed("v1", "Pod", "lab-t")
    roles = ObjectsNeed("rbac.authorization.k8s.io/v1", "Role", "", fresh=True)
    assert not reads_fresh(Snapshot(now=0, objects={pods: []}))
    assert reads_fresh(Snapshot(now=0, objects={pods: [], roles: []}))
    assert reads_fresh(Snapshot(now=0, errors={roles: "the API server does not answer"}))


async def test_the_status_written_is_kept_once_when_the_watch_brings_it_back() -> None:
    import copy

    lab = Lab({"scenario": "s", "seed": 7})
    await lab.step()
    ours = lab.loop.written
    assert ours and lab.loop.decided is ours
    # An older status (the echo of an earlier write) is not taken for the one written.
    lab.body["status"] = {**copy.deepcopy(ours), "progress": "0/1"}
    lab.loop.share_written()
    assert lab.loop.written is ours
    lab.body["status"] = copy.deepcopy(ours)
    lab.loop.share_written()
    assert lab.loop.written is lab.body["status"] and lab.loop.decided is lab.loop.written
    # And the loop goes on from it: nothing changed, nothing written.
    assert await lab.step() == []


async def test_a_burst_is_graded_once_it_pauses_and_a_burst_that_never_does_at_its_cap() -> None:
    lab = Lab({"scenario": "s", "seed": 7})
    lab.loop.settings = LoopSettings(quiet_seconds=0.005, debounce_seconds=0.3, burst_cap_seconds=2)
    lab.signals.flag("t")

    async def events(count: int, spacing: float) -> float:
        for _ in range(count):
            lab.signals.namespace("lab-t")
            await asyncio.sleep(spacing)
        return time.monotonic()

    started = time.monotonic()
    burst = asyncio.create_task(events(6, 0.05))
    await lab.loop._burst_pause()
    paused = time.monotonic()
    # Six events 50 ms apart: the pause outlasts them all, and ends a pause of the burst's
    # own pace after the last (well before the 2 s cap).
    assert paused >= await burst - 0.06
    assert paused - started < 1.5

    forever = asyncio.create_task(events(1000, 0.01))
    lab.loop.settings = LoopSettings(
        quiet_seconds=0.005, debounce_seconds=0.3, burst_cap_seconds=0.3
    )
    started = time.monotonic()
    await lab.loop._burst_pause()
    assert time.monotonic() - started < 1.0
    forever.cancel()
